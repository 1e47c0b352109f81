/** `config generate`: a complete MAS configuration from a loaded Synapse configuration, with its conversion report. */
import type { SynapseConfig } from "../types.ts";
import { linkStubs, linkStubsComment, reportLinks, type LinkStub } from "./link-stubs.ts";
import { mapOidcProviders } from "./providers.ts";
import { accountSection, captchaSection, passwordsSection } from "./passwords.ts";
import { ConversionReport } from "./report.ts";
import { generateSecrets, type GeneratedSecrets } from "./secrets.ts";
import { databaseSection, emailSection, homeserverUrl, httpSection, masPublicBase, matrixSection } from "./sections.ts";
import { reportUnsupported } from "./unsupported.ts";
import { toCommentedYaml, type KeyComment } from "./yaml.ts";
import { ConfigView, withoutUndefined, type Mapping, type SourceHints } from "../yaml-source.ts";

const HINTS: SourceHints = {
  file: "pass Synapse's configuration with --synapse-config (a file or a directory of *.yaml files), as given to Synapse with -c",
  key: "correct this key in the Synapse configuration (see Synapse's configuration manual): Synapse itself would refuse or misread it",
};

/** What {@link generateMasConfig} produces. */
export interface GeneratedMasConfig {
  /** The MAS configuration as a plain object (what the YAML holds). */
  config: Mapping;
  /** One line per Synapse setting mapped, changed or not carried over; secret values redacted. */
  report: ConversionReport;
  /** The fresh secrets inside `config`. */
  secrets: GeneratedSecrets;
  /** MAS's `http.public_base`: where Synapse's `matrix_authentication_service.endpoint` points. */
  publicBase: string;
  /** The Synapse files the configuration was generated from. */
  sourceFiles: string[];
  /** The upstream providers written commented out for SAML, CAS, password-module and JWT users, with their --link flags. */
  linkStubs: LinkStub[];
}

/** The values of the input and output that are secrets, for {@link ConversionReport.redact}. */
function secretValues(config: Mapping, synapse: SynapseConfig): (string | undefined)[] {
  const providers = ((config["upstream_oauth2"] as Mapping | undefined)?.["providers"] ?? []) as Mapping[];
  const email = config["email"] as Mapping | undefined;
  const captcha = config["captcha"] as Mapping | undefined;
  const secrets = config["secrets"] as { encryption: string; keys: { key: string }[] };
  return [
    synapse.pepper,
    synapse.database.password,
    (config["matrix"] as Mapping)["secret"] as string,
    secrets.encryption,
    ...secrets.keys.map((k) => k.key),
    ...providers.map((p) => p["client_secret"] as string | undefined),
    email?.["password"] as string | undefined,
    captcha?.["secret_key"] as string | undefined,
  ];
}

/**
 * Builds the MAS configuration for a Synapse configuration as config.md describes: matrix, http, database
 * (to create), passwords, account, captcha, email, upstream providers (and, commented out, a stub for each source of
 * users MAS cannot serve directly: SAML, CAS, password modules, JWT) and fresh secrets. Every Synapse
 * setting that matters is reported as mapped, changed or not carried over; nothing is dropped silently.
 * @throws UserError for a Synapse key of the wrong type or an unreadable `client_secret_path` file.
 */
export function generateMasConfig(synapse: SynapseConfig): GeneratedMasConfig {
  const view = new ConfigView(synapse.raw, new Map(), HINTS, synapse.files.join(", "));
  const report = new ConversionReport();
  const secrets = generateSecrets();
  const homeserver = homeserverUrl(synapse, view, report);
  const publicBase = masPublicBase(homeserver);
  const matrix = matrixSection(synapse, homeserver, secrets.matrixSecret, report);
  const http = httpSection(publicBase, report);
  const database = databaseSection(synapse, report);
  const passwords = passwordsSection(synapse, view, report);
  const email = emailSection(view, report);
  const account = accountSection(synapse, view, email !== undefined, report);
  const captcha = captchaSection(view, report);
  const providers = mapOidcProviders(synapse, view, report);
  const stubs = linkStubs(view);
  reportUnsupported(view, stubs, report);
  reportLinks(stubs, report);
  const config = withoutUndefined({
    matrix,
    http,
    database,
    passwords,
    account,
    captcha,
    email,
    upstream_oauth2: providers.length > 0 ? { providers } : undefined,
    secrets: { encryption: secrets.encryption, keys: secrets.keys.map((k) => ({ kid: k.kid, key: k.key })) },
  });
  report.redact(secretValues(config, synapse));
  return { config, report, secrets, publicBase, sourceFiles: synapse.files, linkStubs: stubs };
}

const COMMENTS: KeyComment[] = [
  [["matrix", "endpoint"], "Where MAS reaches Synapse's client API (Synapse's public_baseurl; an internal URL works too)."],
  [["matrix", "secret"], "Generated: Synapse's matrix_authentication_service.secret must be this same value."],
  [["http", "public_base"], "ACTION: MAS's public URL, guessed from public_baseurl. Set the URL users will reach MAS at."],
  [
    ["database"],
    "ACTION: MAS needs its own, EMPTY PostgreSQL database: create it first (e.g. `createdb mas` on Synapse's server),\n" +
      "run `mas-cli database migrate`, then `syn2mas migrate`. Prefilled from Synapse's connection settings.",
  ],
  [
    ["passwords", "schemes"],
    "Version 1 verifies the bcrypt hashes migrated from Synapse (same pepper, NFKC normalization); version 2 re-hashes them at login.",
  ],
  [["captcha"], "From Synapse's reCAPTCHA settings."],
  [["email"], "From Synapse's SMTP settings."],
  [
    ["upstream_oauth2", "providers"],
    "From Synapse's OIDC providers; synapse_idp_id links the users' existing upstream accounts.\n" +
      "ACTION: run `mas-cli config sync` before `syn2mas migrate`, and register <http.public_base>upstream/callback/<id> at each provider.",
  ],
  [["secrets"], "Generated: keep them. Changing secrets.encryption later makes the encrypted data in MAS's database unreadable."],
];

/** The generated configuration as commented YAML, ready to save as MAS's config.yaml. */
export function masConfigYaml(generated: GeneratedMasConfig): string {
  const header =
    `MAS configuration generated by syn2mas config generate from ${generated.sourceFiles.join(", ")}.\n` +
    "It holds secrets: keep this file private. Lines marked ACTION need your attention; the conversion report lists the rest.";
  const stubs = generated.linkStubs;
  // The stubs go after upstream_oauth2 (or where it would be), i.e. just above secrets, whose own comment follows them.
  const underProviders = generated.config["upstream_oauth2"] !== undefined;
  const comments: KeyComment[] =
    stubs.length === 0 ? COMMENTS : [[["secrets"], linkStubsComment(stubs, underProviders)], ...COMMENTS];
  return toCommentedYaml(generated.config, header, comments);
}
