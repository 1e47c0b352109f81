/** Rules over the Synapse configuration alone. Pure: no database, no file system. */
import type { SynapseConfig } from "../config/types.ts";
import {
  isAuthModule,
  moduleNames,
  pythonTruthy,
  sectionEnabledByDefault,
  sectionEnabledExplicitly,
  sectionKey,
  strToBool,
} from "../config/synapse-semantics.ts";
import type { MasId } from "../model/ids.ts";
import { LOCALPART_SOURCE, type LinkRule } from "../model/link-rule.ts";
import { finding, type Finding } from "./finding.ts";

/** One rule: the findings it makes for a configuration (usually none or one). */
type SynapseRule = (synapse: SynapseConfig, coverage: LinkCoverage) => Finding[];

/** Findings about Synapse's own settings; `coverage` says which of its login methods the run's links carry over. */
export function synapseConfigRules(synapse: SynapseConfig, coverage: LinkCoverage = {}): Finding[] {
  return SYNAPSE_RULES.flatMap((rule) => rule(synapse, coverage));
}

// --- Rules --------------------------------------------------------------------------------------

export function unsupportedDatabase(synapse: SynapseConfig): Finding[] {
  if (synapse.databaseEngine === "psycopg2" || synapse.databaseEngine === "sqlite3") return [];
  return [
    finding(
      "UNSUPPORTED_DATABASE",
      `Synapse's database.name is "${synapse.databaseEngine}"; this tool reads PostgreSQL (psycopg2) and SQLite (sqlite3), ` +
        "the two databases Synapse runs on. Fix database.name, or point --synapse-database-uri at Synapse's database " +
        "(postgresql://... or sqlite:///path/to/homeserver.db).",
    ),
  ];
}

function registrationEnabled(synapse: SynapseConfig): Finding[] {
  if (!strToBool(synapse.raw["enable_registration"] ?? false)) return [];
  return [
    finding(
      "REGISTRATION_ENABLED",
      "Synapse has `enable_registration: true`, but once MAS handles authentication, registration happens in MAS and this " +
        "Synapse setting must be off. Set `enable_registration: false` in homeserver.yaml, and set " +
        "`account.password_registration_enabled: true` in the MAS configuration if new users should still sign up with a password.",
    ),
  ];
}

function userConsent(synapse: SynapseConfig): Finding[] {
  if (synapse.raw["user_consent"] == null) return [];
  return [
    finding(
      "USER_CONSENT",
      "Synapse has a `user_consent` section: MAS does not serve Synapse's consent form or track which users accepted it. " +
        "Remove `user_consent` from homeserver.yaml and set `branding.tos_uri` in the MAS configuration to the URL of your terms " +
        "of service, so that MAS asks new users to accept them.",
    ),
  ];
}

/** What may carry Synapse's SSO and password-module users over to MAS: the run's `--link` rules and mapped providers. */
export interface LinkCoverage {
  providers?: ReadonlyMap<string, MasId>;
  links?: ReadonlyMap<string, LinkRule>;
}

/** How `source`'s users reach MAS in this run, as a phrase; undefined when nothing carries them over. */
function coveredBy(source: string, coverage: LinkCoverage): string | undefined {
  const rule = coverage.links?.get(source);
  if (rule !== undefined) return `\`--link ${rule.flag}\``;
  if (source !== LOCALPART_SOURCE && coverage.providers?.has(source))
    return `the MAS provider with \`synapse_idp_id: ${source}\``;
  return undefined;
}

/** A single-sign-on section (CAS, SAML, JWT) and how to move its users to MAS. */
interface SsoSection {
  code: "CAS_CONFIGURED" | "SAML_CONFIGURED" | "JWT_CONFIGURED";
  key: string;
  enabled: (section: unknown) => boolean;
  /** The `--link` SOURCE that carries its users over. */
  source: string;
  advice: string;
}

const SYNC =
  "add it to `upstream_oauth2.providers` in the MAS configuration (`syn2mas config generate` writes a commented stub), run `mas-cli config sync`, ";

const SSO_SECTIONS: SsoSection[] = [
  {
    code: "CAS_CONFIGURED",
    key: "cas_config",
    enabled: sectionEnabledByDefault,
    source: "cas",
    advice:
      "MAS does not speak CAS: expose your CAS server through OpenID Connect (CAS can serve OIDC itself), " +
      SYNC +
      "then pass `--link cas=<its ULID>` so that each CAS user name becomes that provider's subject for its user.",
  },
  {
    code: "SAML_CONFIGURED",
    key: "saml2_config",
    enabled: sectionEnabledByDefault,
    source: "saml",
    advice:
      "MAS does not speak SAML: put an OIDC bridge in front of your SAML identity provider (for example Dex with its SAML " +
      "connector), " +
      SYNC +
      "then pass `--link saml=<its ULID>:dex:saml:{external_id}` so that each SAML id becomes a link with the subject Dex " +
      "presents for it (`--link saml=<its ULID>` if the bridge presents the SAML id itself).",
  },
  {
    code: "JWT_CONFIGURED",
    key: "jwt_config",
    enabled: sectionEnabledExplicitly,
    source: LOCALPART_SOURCE,
    advice:
      "MAS does not accept JWT logins: serve the identity source that issues those tokens through OpenID Connect (for example " +
      "through Dex), " +
      SYNC +
      "then pass `--link localpart=<its ULID>[:SUBJECT]` so that the users Synapse knows only by their localpart get a link.",
  },
];

function ssoSections(synapse: SynapseConfig, coverage: LinkCoverage): Finding[] {
  return SSO_SECTIONS.filter((s) => s.enabled(synapse.raw[s.key])).map((s) => {
    const covering = coveredBy(s.source, coverage);
    if (covering !== undefined) {
      return finding(
        s.code,
        `Synapse's \`${s.key}\` is enabled; its users carry over through ${covering}. Set \`${s.key}.enabled: false\` ` +
          "in homeserver.yaml for the cut-over.",
        { severity: "info" },
      );
    }
    return finding(
      s.code,
      `Synapse's \`${s.key}\` is enabled: users who log in through it cannot log in to MAS until MAS has an upstream provider ` +
        `for them. ${s.advice} Then set \`${s.key}.enabled: false\` in homeserver.yaml.`,
    );
  });
}

/** Where Synapse checks passwords other than against its own hashes, each as the config key that says so. */
function externalPasswordSources(synapse: SynapseConfig): string[] {
  const sources: string[] = [];
  if (!synapse.localdbEnabled) sources.push("`password_config.localdb_enabled: false`");
  const legacy = synapse.raw["password_providers"];
  if (Array.isArray(legacy) && legacy.length > 0) {
    const names = moduleNames(legacy);
    sources.push(
      `\`password_providers\` (${names.length > 0 ? names.map((n) => `\`${n}\``).join(", ") : `${legacy.length} entries`})`,
    );
  }
  for (const name of moduleNames(synapse.raw["modules"]).filter(isAuthModule)) sources.push(`the \`modules\` entry \`${name}\``);
  return sources;
}

function passwordProvider(synapse: SynapseConfig, coverage: LinkCoverage): Finding[] {
  const sources = externalPasswordSources(synapse);
  if (sources.length === 0) return [];
  const covering = coveredBy(LOCALPART_SOURCE, coverage);
  if (covering !== undefined) {
    return [
      finding(
        "PASSWORD_PROVIDER",
        `Synapse checks passwords outside its own database (${sources.join("; ")}); the users it knows only by their localpart ` +
          `carry over through ${covering}. Remove the provider from \`modules\` / \`password_providers\` in homeserver.yaml ` +
          "for the cut-over.",
        { severity: "info" },
      ),
    ];
  }
  return [
    finding(
      "PASSWORD_PROVIDER",
      `Synapse checks passwords outside its own database: ${sources.join("; ")}. MAS checks passwords only against the hashes ` +
        "migrated from Synapse's `users` table, so users without a local hash (for example LDAP accounts) cannot log in to MAS " +
        "with their password. Connect that user directory to MAS as an upstream provider (for example Dex with its LDAP " +
        "connector), " +
        SYNC +
        "then pass `--link localpart=<its ULID>:dex:ldap:{localpart}` so that each of those users gets a link. Then remove the " +
        "provider from `modules` / `password_providers` in homeserver.yaml and leave `password_config.localdb_enabled` unset " +
        "(it defaults to true).",
    ),
  ];
}

function threepidChanges(synapse: SynapseConfig): Finding[] {
  if (!pythonTruthy(synapse.raw["enable_3pid_changes"])) return [];
  return [
    finding(
      "THREEPID_CHANGES_ENABLED",
      "Synapse has `enable_3pid_changes: true`, but once MAS handles authentication, MAS owns users' email addresses and Synapse " +
        "refuses this setting. Set `enable_3pid_changes: false` (or remove it) in homeserver.yaml; to let users change their email " +
        "address, set `account.email_change_allowed: true` in the MAS configuration.",
    ),
  ];
}

function loginViaExistingSession(synapse: SynapseConfig): Finding[] {
  if (!pythonTruthy(sectionKey(synapse.raw["login_via_existing_session"], "enabled"))) return [];
  return [
    finding(
      "LOGIN_VIA_EXISTING_SESSION",
      "Synapse has `login_via_existing_session.enabled: true`, but MAS does not offer logging in through an existing session " +
        "(MSC3882) and Synapse refuses it once MAS handles authentication. Set `login_via_existing_session.enabled: false` " +
        "(or remove the section) in homeserver.yaml.",
    ),
  ];
}

const SYNAPSE_RULES: SynapseRule[] = [
  registrationEnabled,
  userConsent,
  ssoSections,
  passwordProvider,
  threepidChanges,
  loginViaExistingSession,
  unsupportedDatabase,
];
