/** Tests for masConfigRules: every code on the real fixture pair edited, each with near-misses that must stay quiet. */
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeMasConfig, writeSynapseConfig, type ConfigOverrides } from "../../test/harness/temp-config.ts";
import { loadMasConfig } from "../config/mas.ts";
import { loadSynapseConfig } from "../config/synapse.ts";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import { masConfigRules } from "./mas-config.ts";
import { assertRuleCase, type ExpectedFinding } from "../../test/harness/rule-case.ts";
import { scratchDir } from "../../test/harness/scratch.ts";

const PEPPER = "peppery-pepper-123";
const OTHER_PEPPER = "other-pepper-456";
/** Secrets of the fixtures and of the cases below: no message may contain any of them. */
const SECRETS = [
  PEPPER,
  OTHER_PEPPER,
  "kc-secret",
  "gh-secret",
  "0123456789abcdef0123456789abcdef",
  "recaptcha-private-xyz",
  "mas-captcha-secret",
];

const MAS_URI = "postgresql://postgres@127.0.0.1:5432/mas";

function tempDir(): string {
  return scratchDir("syn2mas-mas-rules-");
}

/** A file holding `content`, for `secret_file`. */
function secretFile(content: string): string {
  const file = path.join(tempDir(), "pepper");
  fs.writeFileSync(file, content);
  return file;
}

/** The fixture pair (Synapse with guest access off), each with top-level overrides, written and loaded. */
async function fixturePair(synapse: ConfigOverrides = {}, mas: ConfigOverrides = {}): Promise<[SynapseConfig, MasConfig]> {
  const dir = tempDir();
  const synapseFile = await writeSynapseConfig(dir, { overrides: { allow_guest_access: false, ...synapse } });
  const masFile = await writeMasConfig(dir, { uri: MAS_URI, overrides: mas });
  return [loadSynapseConfig([synapseFile]), loadMasConfig([masFile])];
}

type Scheme = Record<string, unknown>;
const BCRYPT: Scheme = { version: 1, algorithm: "bcrypt", unicode_normalization: true, secret: PEPPER };
const ARGON2: Scheme = { version: 2, algorithm: "argon2id" };
const schemes = (...list: Scheme[]): ConfigOverrides => ({ passwords: { enabled: true, schemes: list } });
const synapsePepper = (pepper: string | undefined): ConfigOverrides => ({
  password_config: pepper === undefined ? { enabled: true } : { enabled: true, pepper },
});
const CONSENT: ConfigOverrides = { user_consent: { version: "1.0", template_dir: "/data/consent" } };
const CAPTCHA: ConfigOverrides = {
  enable_registration_captcha: true,
  recaptcha_public_key: "pub",
  recaptcha_private_key: "recaptcha-private-xyz",
};

interface Case extends ExpectedFinding {
  name: string;
  synapse?: ConfigOverrides;
  /** MAS overrides; a function for values known only at run time (secret files). */
  mas?: ConfigOverrides | (() => ConfigOverrides);
}

const cases: Case[] = [
  {
    name: "another homeserver",
    mas: { matrix: { homeserver: "example.org", secret: "x" } },
    code: "SERVER_NAME_MISMATCH",
    severity: "error",
    mentions: ["matrix.homeserver: example.com"],
  },
  { name: "same homeserver", code: "SERVER_NAME_MISMATCH", severity: null },

  {
    name: "argon2id as version 1",
    mas: schemes({ version: 1, algorithm: "argon2id" }, { version: 2, algorithm: "bcrypt" }),
    code: "NO_BCRYPT_SCHEME",
    severity: "error",
    mentions: ["`algorithm: argon2id`", "`{version: 1, algorithm: bcrypt, unicode_normalization: true"],
  },
  {
    name: "no passwords.schemes (MAS's default)",
    mas: { passwords: { enabled: true } },
    code: "NO_BCRYPT_SCHEME",
    severity: "error",
    mentions: ["no `passwords.schemes`"],
  },
  {
    name: "no version 1",
    mas: schemes({ ...BCRYPT, version: 2 }),
    code: "NO_BCRYPT_SCHEME",
    severity: "error",
    mentions: ["no entry with `version: 1`"],
  },
  { name: "MAS passwords disabled", mas: { passwords: { enabled: false } }, code: "NO_BCRYPT_SCHEME", severity: null },
  { name: "bcrypt as version 1", code: "NO_BCRYPT_SCHEME", severity: null },

  {
    name: "different peppers",
    mas: schemes({ ...BCRYPT, secret: OTHER_PEPPER }, ARGON2),
    code: "PEPPER_MISMATCH",
    severity: "error",
    mentions: ["`password_config.pepper`", "`secret`"],
  },
  {
    name: "pepper missing in MAS",
    mas: schemes({ ...BCRYPT, secret: undefined }, ARGON2),
    code: "PEPPER_MISMATCH",
    severity: "error",
    mentions: ["Set `secret:`"],
  },
  {
    name: "pepper only in MAS",
    synapse: synapsePepper(undefined),
    code: "PEPPER_MISMATCH",
    severity: "error",
    mentions: ["Remove `secret`"],
  },
  {
    name: "secret_file with a trailing newline",
    mas: () => schemes({ ...BCRYPT, secret: undefined, secret_file: secretFile(`${PEPPER}\n`) }, ARGON2),
    code: "PEPPER_MISMATCH",
    severity: "error",
    mentions: ["trailing newline", "`secret_file`"],
  },
  {
    name: "secret_file with another pepper",
    mas: () => schemes({ ...BCRYPT, secret: undefined, secret_file: secretFile(OTHER_PEPPER) }, ARGON2),
    code: "PEPPER_MISMATCH",
    severity: "error",
  },
  { name: "same pepper", code: "PEPPER_MISMATCH", severity: null },
  {
    name: "same pepper from secret_file",
    mas: () => schemes({ ...BCRYPT, secret: undefined, secret_file: secretFile(PEPPER) }, ARGON2),
    code: "PEPPER_MISMATCH",
    severity: null,
  },
  {
    name: "no pepper on either side",
    synapse: synapsePepper(undefined),
    mas: schemes({ ...BCRYPT, secret: undefined }, ARGON2),
    code: "PEPPER_MISMATCH",
    severity: null,
  },
  {
    name: "empty pepper on both sides",
    synapse: synapsePepper(""),
    mas: schemes({ ...BCRYPT, secret: "" }, ARGON2),
    code: "PEPPER_MISMATCH",
    severity: null,
  },
  {
    name: "the pepper of another scheme does not count",
    mas: schemes(BCRYPT, { ...ARGON2, secret: OTHER_PEPPER }),
    code: "PEPPER_MISMATCH",
    severity: null,
  },

  {
    name: "no unicode_normalization",
    mas: schemes({ ...BCRYPT, unicode_normalization: undefined }, ARGON2),
    code: "UNICODE_NORMALIZATION_OFF",
    severity: "error",
    mentions: ["`unicode_normalization: true`", "`version: 1`"],
  },
  {
    name: "unicode_normalization: false",
    mas: schemes({ ...BCRYPT, unicode_normalization: false }, ARGON2),
    code: "UNICODE_NORMALIZATION_OFF",
    severity: "error",
  },
  { name: "unicode_normalization: true", code: "UNICODE_NORMALIZATION_OFF", severity: null },
  {
    name: "only a later scheme lacks it",
    mas: schemes(BCRYPT, { ...ARGON2, unicode_normalization: false }),
    code: "UNICODE_NORMALIZATION_OFF",
    severity: null,
  },

  {
    name: "bcrypt alone",
    mas: schemes(BCRYPT),
    code: "NO_REHASH_SCHEME",
    severity: "warning",
    mentions: ["`{version: 2, algorithm: argon2id}`", "`passwords.schemes`"],
  },
  { name: "bcrypt then argon2id", code: "NO_REHASH_SCHEME", severity: null },
  {
    name: "no bcrypt scheme at all (NO_BCRYPT_SCHEME says it)",
    mas: schemes({ version: 1, algorithm: "argon2id" }),
    code: "NO_REHASH_SCHEME",
    severity: null,
  },

  {
    name: "guests allowed",
    synapse: { allow_guest_access: true },
    code: "GUEST_ACCESS_ENABLED",
    severity: "error",
    mentions: ["`allow_guest_access: false`"],
  },
  { name: "guests off", code: "GUEST_ACCESS_ENABLED", severity: null },

  {
    name: "CAPTCHA in Synapse only",
    synapse: CAPTCHA,
    code: "CAPTCHA_NOT_CONFIGURED",
    severity: "warning",
    mentions: ["`captcha.service", "`enable_registration_captcha: true`"],
  },
  {
    name: "CAPTCHA on both sides",
    synapse: CAPTCHA,
    mas: { captcha: { service: "recaptcha_v2", site_key: "pub", secret_key: "mas-captcha-secret" } },
    code: "CAPTCHA_NOT_CONFIGURED",
    severity: null,
  },
  {
    name: "CAPTCHA keys without enable_registration_captcha",
    synapse: { ...CAPTCHA, enable_registration_captcha: false },
    code: "CAPTCHA_NOT_CONFIGURED",
    severity: null,
  },

  {
    name: "consent without tos_uri",
    synapse: CONSENT,
    code: "TOS_NOT_CONFIGURED",
    severity: "warning",
    mentions: ["`branding.tos_uri`"],
  },
  {
    name: "consent with tos_uri",
    synapse: CONSENT,
    mas: { branding: { tos_uri: "https://example.com/tos" } },
    code: "TOS_NOT_CONFIGURED",
    severity: null,
  },
  { name: "no consent", code: "TOS_NOT_CONFIGURED", severity: null },
];

describe("masConfigRules", () => {
  it("finds nothing in the fixture pair with guest access off", async () => {
    assert.deepEqual(masConfigRules(...(await fixturePair())), []);
  });

  for (const c of cases) {
    it(`${c.severity === null ? "does not report" : "reports"} ${c.code}: ${c.name}`, async () => {
      const mas = typeof c.mas === "function" ? c.mas() : c.mas;
      const findings = masConfigRules(...(await fixturePair(c.synapse, mas)));
      assertRuleCase(findings, c, SECRETS);
    });
  }

  it("with MAS passwords disabled, reports no password-scheme finding whatever the schemes", async () => {
    const [synapse, mas] = await fixturePair(
      {},
      { passwords: { enabled: false, schemes: [{ version: 1, algorithm: "bcrypt", secret: OTHER_PEPPER }] } },
    );
    assert.deepEqual(masConfigRules(synapse, mas), []);
  });

  it("the MAS loader reads captcha.service and branding.tos_uri, and leaves them out when unset", async () => {
    const [, mas] = await fixturePair({}, { captcha: { service: "hcaptcha" }, branding: { tos_uri: "https://example.com/tos" } });
    assert.equal(mas.captchaService, "hcaptcha");
    assert.equal(mas.tosUri, "https://example.com/tos");
    const [, bare] = await fixturePair();
    assert.ok(!("captchaService" in bare) && !("tosUri" in bare));
  });
});
