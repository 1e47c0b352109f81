/** Rules over the Synapse configuration against the MAS configuration. Pure: no database. */
import type { MasConfig, MasPasswordScheme, SynapseConfig } from "../config/types.ts";
import { finding, type Finding } from "./finding.ts";
import { pythonTruthy } from "../config/synapse-semantics.ts";

/** One rule: the findings it makes for the two configurations (usually none or one). */
type MasRule = (synapse: SynapseConfig, mas: MasConfig) => Finding[];

/** Findings about how MAS is configured for this Synapse. */
export function masConfigRules(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  return MAS_RULES.flatMap((rule) => rule(synapse, mas));
}

/** The version Synapse's bcrypt hashes are migrated with. */
const MIGRATED_VERSION = 1;

/** The scheme that must verify the migrated hashes: `version: 1` with `algorithm: bcrypt`. */
export function bcryptScheme(mas: MasConfig): MasPasswordScheme | undefined {
  return mas.passwordSchemes.find((s) => s.version === MIGRATED_VERSION && s.algorithm === "bcrypt");
}

/** An empty pepper is no pepper, for Synapse (appends "") and MAS (appends no bytes) alike. */
function pepperOf(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}

/** Whether the MAS configuration itself lists `passwords.schemes` (else MAS uses its default). */
function schemesListed(mas: MasConfig): boolean {
  const passwords = mas.raw["passwords"];
  return typeof passwords === "object" && passwords !== null && (passwords as Record<string, unknown>)["schemes"] != null;
}

// --- Rules --------------------------------------------------------------------------------------

function serverNameMismatch(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  if (mas.homeserver === synapse.serverName) return [];
  return [
    finding(
      "SERVER_NAME_MISMATCH",
      `MAS matrix.homeserver is "${mas.homeserver ?? "(unset)"}" but Synapse server_name is "${synapse.serverName}". ` +
        `Set matrix.homeserver: ${synapse.serverName} in the MAS configuration.`,
    ),
  ];
}

/** What MAS's version 1 is today, for the NO_BCRYPT_SCHEME message. */
function describeVersionOne(mas: MasConfig): string {
  if (!schemesListed(mas)) return "The MAS configuration has no `passwords.schemes`, so MAS uses argon2id as `version: 1`";
  const one = mas.passwordSchemes.find((s) => s.version === MIGRATED_VERSION);
  if (one !== undefined) return `MAS's password scheme \`version: 1\` has \`algorithm: ${one.algorithm}\``;
  return "MAS's `passwords.schemes` has no entry with `version: 1`";
}

function noBcryptScheme(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  if (bcryptScheme(mas) !== undefined) return [];
  const secret = synapse.pepper === undefined ? "" : ", secret: <the value of Synapse's password_config.pepper>";
  return [
    finding(
      "NO_BCRYPT_SCHEME",
      `${describeVersionOne(mas)}, but the password hashes migrated from Synapse are bcrypt hashes stored as version 1, so no ` +
        `user could log in with their password. Make the first entry of \`passwords.schemes\` in the MAS configuration ` +
        `\`{version: 1, algorithm: bcrypt, unicode_normalization: true${secret}}\` and give the other schemes higher versions ` +
        "(for example `{version: 2, algorithm: argon2id}`).",
    ),
  ];
}

/** Why the two peppers differ and what to do, without either value. */
function pepperAdvice(synapsePepper: string | undefined, scheme: MasPasswordScheme, masPepper: string | undefined): string {
  const where = scheme.secretFile === undefined ? "`secret`" : `\`secret_file\` (${scheme.secretFile})`;
  if (masPepper === undefined) {
    return (
      "Synapse has a `password_config.pepper` but that scheme has no `secret`. Set `secret:` on the scheme to the same value " +
      "as Synapse's `password_config.pepper` (or `secret_file:` pointing at a file holding exactly that value)."
    );
  }
  if (synapsePepper === undefined) {
    return `Synapse has no \`password_config.pepper\` but that scheme has a ${where}. Remove \`secret\` / \`secret_file\` from the scheme.`;
  }
  if (scheme.secretFile !== undefined && masPepper.replace(/\r?\n$/, "") === synapsePepper) {
    return (
      `The file named by \`secret_file\` (${scheme.secretFile}) ends with a newline, which MAS keeps as part of the pepper. ` +
      "Write the file without a trailing newline (for example with `printf %s`)."
    );
  }
  return `Set the scheme's ${where} to exactly the value of Synapse's \`password_config.pepper\`.`;
}

export function pepperMismatch(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  const scheme = bcryptScheme(mas);
  if (scheme === undefined) return [];
  const synapsePepper = pepperOf(synapse.pepper);
  const masPepper = pepperOf(scheme.secret);
  if (synapsePepper === masPepper) return [];
  return [
    finding(
      "PEPPER_MISMATCH",
      "The pepper of MAS's bcrypt password scheme (`version: 1`) differs from Synapse's `password_config.pepper`, so no migrated " +
        `password would match. ${pepperAdvice(synapsePepper, scheme, masPepper)}`,
    ),
  ];
}

export function unicodeNormalizationOff(_synapse: SynapseConfig, mas: MasConfig): Finding[] {
  const scheme = bcryptScheme(mas);
  if (scheme === undefined || scheme.unicodeNormalization) return [];
  return [
    finding(
      "UNICODE_NORMALIZATION_OFF",
      "MAS's bcrypt password scheme (`version: 1`) does not normalize passwords, but Synapse hashed them after Unicode (NFKC) " +
        "normalization, so users with non-ASCII passwords would be locked out. Set `unicode_normalization: true` on the MAS " +
        "password scheme with `version: 1`.",
    ),
  ];
}

function noRehashScheme(_synapse: SynapseConfig, mas: MasConfig): Finding[] {
  if (bcryptScheme(mas) === undefined || mas.passwordSchemes.some((s) => s.version > MIGRATED_VERSION)) return [];
  return [
    finding(
      "NO_REHASH_SCHEME",
      "MAS has no password scheme with a version above 1, so the migrated bcrypt hashes are never upgraded. Add " +
        "`{version: 2, algorithm: argon2id}` to `passwords.schemes` in the MAS configuration; MAS then re-hashes each password " +
        "with it at the user's next login.",
    ),
  ];
}

/** The password-scheme rules, which matter only while MAS accepts passwords (PASSWORDS_DISABLED covers the rest). */
function passwordSchemeRules(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  if (!mas.passwordsEnabled) return [];
  return [noBcryptScheme, pepperMismatch, unicodeNormalizationOff, noRehashScheme].flatMap((rule) => rule(synapse, mas));
}

function guestAccessEnabled(synapse: SynapseConfig): Finding[] {
  if (!pythonTruthy(synapse.raw["allow_guest_access"])) return [];
  return [
    finding(
      "GUEST_ACCESS_ENABLED",
      "Synapse has `allow_guest_access: true`, but MAS has no guest accounts and Synapse cannot offer guest access once MAS " +
        "handles authentication. Set `allow_guest_access: false` in homeserver.yaml.",
    ),
  ];
}

function captchaNotConfigured(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  if (!pythonTruthy(synapse.raw["enable_registration_captcha"]) || mas.captchaService !== undefined) return [];
  return [
    finding(
      "CAPTCHA_NOT_CONFIGURED",
      "Synapse asks for a CAPTCHA at registration (`enable_registration_captcha: true`) but the MAS configuration has no " +
        "`captcha.service`, so MAS would let anyone register without one. Set `captcha.service: recaptcha_v2` with " +
        "`captcha.site_key` and `captcha.secret_key` (Synapse's `recaptcha_public_key` and `recaptcha_private_key`) in the MAS " +
        "configuration.",
    ),
  ];
}

function tosNotConfigured(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  if (synapse.raw["user_consent"] == null || mas.tosUri !== undefined) return [];
  return [
    finding(
      "TOS_NOT_CONFIGURED",
      "Synapse asks users to accept its terms (`user_consent`) but the MAS configuration has no `branding.tos_uri`, so MAS " +
        "will not show them. Set `branding.tos_uri` in the MAS configuration to the public URL of your terms of service.",
    ),
  ];
}

const MAS_RULES: MasRule[] = [
  serverNameMismatch,
  passwordSchemeRules,
  guestAccessEnabled,
  captchaNotConfigured,
  tosNotConfigured,
];
