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
import { finding, type Finding } from "./finding.ts";

/** One rule: the findings it makes for a configuration (usually none or one). */
type SynapseRule = (synapse: SynapseConfig) => Finding[];

/** Findings about Synapse's own settings. */
export function synapseConfigRules(synapse: SynapseConfig): Finding[] {
  return SYNAPSE_RULES.flatMap((rule) => rule(synapse));
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

/** A single-sign-on section (CAS, SAML, JWT) and how to move its users to MAS. */
interface SsoSection {
  code: "CAS_CONFIGURED" | "SAML_CONFIGURED" | "JWT_CONFIGURED";
  key: string;
  enabled: (section: unknown) => boolean;
  advice: string;
}

const SSO_SECTIONS: SsoSection[] = [
  {
    code: "CAS_CONFIGURED",
    key: "cas_config",
    enabled: sectionEnabledByDefault,
    advice:
      "MAS does not speak CAS: expose your CAS server through OpenID Connect (CAS can serve OIDC itself, or put an OIDC bridge " +
      "such as Dex in front of it) and add it to `upstream_oauth2.providers` in the MAS configuration with `synapse_idp_id: cas`, " +
      "so that existing CAS links carry over. Then set `cas_config.enabled: false` in homeserver.yaml.",
  },
  {
    code: "SAML_CONFIGURED",
    key: "saml2_config",
    enabled: sectionEnabledByDefault,
    advice:
      "MAS does not speak SAML: put an OIDC bridge in front of your SAML identity provider (for example Dex with its SAML " +
      "connector) and add it to `upstream_oauth2.providers` in the MAS configuration with `synapse_idp_id: saml`, so that " +
      "existing SAML links carry over. Then set `saml2_config.enabled: false` in homeserver.yaml.",
  },
  {
    code: "JWT_CONFIGURED",
    key: "jwt_config",
    enabled: sectionEnabledExplicitly,
    advice:
      "MAS does not accept JWT logins: serve the identity source that issues those tokens through OpenID Connect (for example " +
      "through Dex) and add it to `upstream_oauth2.providers` in the MAS configuration. Then set `jwt_config.enabled: false` " +
      "in homeserver.yaml.",
  },
];

function ssoSections(synapse: SynapseConfig): Finding[] {
  return SSO_SECTIONS.filter((s) => s.enabled(synapse.raw[s.key])).map((s) =>
    finding(
      s.code,
      `Synapse's \`${s.key}\` is enabled: users who log in through it cannot log in to MAS until MAS has an upstream provider for them. ${s.advice}`,
    ),
  );
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

function passwordProvider(synapse: SynapseConfig): Finding[] {
  const sources = externalPasswordSources(synapse);
  if (sources.length === 0) return [];
  return [
    finding(
      "PASSWORD_PROVIDER",
      `Synapse checks passwords outside its own database: ${sources.join("; ")}. MAS checks passwords only against the hashes ` +
        "migrated from Synapse's `users` table, so users without a local hash (for example LDAP accounts) cannot log in to MAS " +
        "with their password. Connect that user directory to MAS as an upstream provider in `upstream_oauth2.providers` (for " +
        "example Dex with its LDAP connector), then remove the provider from `modules` / `password_providers` in homeserver.yaml " +
        "and leave `password_config.localdb_enabled` unset (it defaults to true).",
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
