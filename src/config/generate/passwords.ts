/** The MAS sections about local accounts: passwords, account and captcha. */
import type { SynapseConfig } from "../types.ts";
import type { ConversionReport } from "./report.ts";
import { pythonTruthy as truthy } from "../synapse-semantics.ts";
import { formatKey, withoutUndefined, type ConfigView, type Mapping } from "../yaml-source.ts";

/** Synapse's default `bcrypt_rounds`. */
const DEFAULT_BCRYPT_ROUNDS = 12;

/** The `password_config` keys Synapse reads. */
const PASSWORD_CONFIG_KEYS = new Set(["enabled", "localdb_enabled", "pepper", "policy"]);

/** Python's `strtobool(str(value))`, which Synapse applies to `enable_registration`. */
function strToBool(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  return ["y", "yes", "t", "true", "on", "1"].includes(String(value).trim().toLowerCase());
}

/** Whether MAS should accept passwords: Synapse's `password_config.enabled` is true or `only_for_reauth`. */
export function passwordsOn(synapse: SynapseConfig): boolean {
  return synapse.passwordsEnabled !== false;
}

function reportPasswordExtras(synapse: SynapseConfig, view: ConfigView, report: ConversionReport): void {
  if (synapse.passwordsEnabled === "only_for_reauth") {
    report.mas(
      "changed",
      "password_config.enabled",
      "is only_for_reauth, which MAS does not have: passwords.enabled is true, so users with a password can also log in with it. " +
        "Set passwords.enabled: false if they must log in through an upstream provider only (their hashes then go unused).",
    );
  }
  if (!synapse.localdbEnabled) {
    report.mas(
      "not-carried-over",
      "password_config.localdb_enabled",
      "is false: MAS checks passwords only against the hashes migrated from Synapse's users table; connect the external source to MAS as an upstream provider.",
    );
  }
  if (view.value(["password_config", "policy"]) != null) {
    report.mas(
      "not-carried-over",
      "password_config.policy",
      "MAS rates password strength with zxcvbn instead of rules: set passwords.minimum_complexity (0 to 4, default 3).",
    );
  }
  for (const key of Object.keys(view.mapping(["password_config"]) ?? {})) {
    if (!PASSWORD_CONFIG_KEYS.has(key)) {
      report.mas(
        "not-carried-over",
        `password_config.${key}`,
        "is not a setting Synapse reads there, so it is ignored (bcrypt_rounds, for one, is a top-level key).",
      );
    }
  }
}

/** `passwords`: bcrypt (version 1) for the migrated hashes, argon2id (version 2) for new ones; or disabled. */
export function passwordsSection(synapse: SynapseConfig, view: ConfigView, report: ConversionReport): Mapping {
  reportPasswordExtras(synapse, view, report);
  if (!passwordsOn(synapse)) {
    report.mas(
      "mapped",
      "password_config.enabled",
      "is false -> passwords.enabled: false (users log in through upstream providers only).",
    );
    return { enabled: false };
  }
  const cost = synapse.bcryptRounds ?? DEFAULT_BCRYPT_ROUNDS;
  const bcrypt = withoutUndefined({ version: 1, algorithm: "bcrypt", cost, secret: synapse.pepper, unicode_normalization: true });
  report.mas(
    "mapped",
    "password_config",
    `-> passwords.schemes[0]: version 1, bcrypt, unicode_normalization: true (Synapse normalizes passwords with NFKC)` +
      `${synapse.pepper === undefined ? "" : ", secret: Synapse's password_config.pepper"}; schemes[1]: version 2, argon2id, to re-hash passwords at the next login.`,
  );
  report.mas(
    "mapped",
    "bcrypt_rounds",
    `-> passwords.schemes[0].cost: ${cost}${synapse.bcryptRounds === undefined ? " (Synapse's default)" : ""}.`,
  );
  return { enabled: true, schemes: [bcrypt, { version: 2, algorithm: "argon2id" }] };
}

function registrationSettings(synapse: SynapseConfig, view: ConfigView, report: ConversionReport): Mapping {
  const registration = strToBool(view.value(["enable_registration"]) ?? false);
  if (!registration) {
    report.mas("mapped", "enable_registration", "is false -> account.password_registration_enabled: false.");
    return { password_registration_enabled: false };
  }
  if (!passwordsOn(synapse)) {
    report.mas(
      "changed",
      "enable_registration",
      "is true but passwords are off: new users register through the upstream providers; account.password_registration_enabled: false.",
    );
    return { password_registration_enabled: false };
  }
  const required = view.list(["registrations_require_3pid"]) ?? [];
  report.mas(
    "mapped",
    "enable_registration",
    `is true -> account.password_registration_enabled: true${required.includes("email") ? ", with an email address" : ""}.`,
  );
  const out: Mapping = { password_registration_enabled: true, password_registration_email_required: required.includes("email") };
  if (truthy(view.value(["registration_requires_token"]))) {
    report.mas("mapped", "registration_requires_token", "-> account.registration_token_required: true.");
    out["registration_token_required"] = true;
  }
  return out;
}

/** `account`: what users may do themselves, from Synapse's equivalent settings. */
export function accountSection(
  synapse: SynapseConfig,
  view: ConfigView,
  emailConfigured: boolean,
  report: ConversionReport,
): Mapping {
  const emailChange = truthy(view.value(["enable_3pid_changes"]) ?? true);
  const displayname = truthy(view.value(["enable_set_display_name"]) ?? true);
  report.mas(
    "mapped",
    "enable_3pid_changes",
    `-> account.email_change_allowed: ${emailChange} (Synapse itself must say false once MAS is on).`,
  );
  report.mas("mapped", "enable_set_display_name", `-> account.displayname_change_allowed: ${displayname}.`);
  const passwords = passwordsOn(synapse);
  if (passwords) {
    report.mas(
      "mapped",
      "password_config",
      "Synapse accepts an email address as login identifier -> account.login_with_email_allowed: true.",
    );
    if (emailConfigured)
      report.mas(
        "mapped",
        "email",
        "Synapse lets users reset their password by email -> account.password_recovery_enabled: true.",
      );
  }
  return {
    email_change_allowed: emailChange,
    displayname_change_allowed: displayname,
    ...registrationSettings(synapse, view, report),
    ...(passwords ? { login_with_email_allowed: true, password_recovery_enabled: emailConfigured } : {}),
  };
}

/** `captcha`: Synapse's reCAPTCHA for registration, or undefined when it has none. */
export function captchaSection(view: ConfigView, report: ConversionReport): Mapping | undefined {
  if (!truthy(view.value(["enable_registration_captcha"]))) return undefined;
  const siteKey = view.text(["recaptcha_public_key"]);
  const secretKey = view.text(["recaptcha_private_key"]);
  if (siteKey === undefined || secretKey === undefined) {
    report.mas(
      "not-carried-over",
      "enable_registration_captcha",
      "is true but recaptcha_public_key / recaptcha_private_key are missing: set captcha.site_key and captcha.secret_key in MAS.",
    );
  } else {
    report.mas("mapped", "enable_registration_captcha", "-> captcha.service: recaptcha_v2 with Synapse's reCAPTCHA keys.");
  }
  if (view.value(["recaptcha_siteverify_api"]) != null) {
    report.mas(
      "not-carried-over",
      formatKey(["recaptcha_siteverify_api"]),
      "MAS always verifies with Google's reCAPTCHA API; hCaptcha and Cloudflare Turnstile are the other services it offers.",
    );
  }
  return withoutUndefined({ service: "recaptcha_v2", site_key: siteKey, secret_key: secretKey });
}
