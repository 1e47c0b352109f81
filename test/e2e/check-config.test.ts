/**
 * End-to-end: `syn2mas check` on the fixture pair with one configuration problem at a time. Each configuration
 * code must come out with its severity, a message naming the key to change, the right exit code, and no secret;
 * accepting a configuration warning must change the exit code and nothing else.
 * Run `npm run build` first: the tests drive the built CLI.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { FIXTURE_CLIENT_SECRETS, FIXTURE_MAS_SECRETS, FIXTURE_PEPPER } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import type { ConfigOverrides } from "../harness/temp-config.ts";
import type { FindingJson as JsonFinding } from "../../src/cli/render.ts";

interface CheckJson {
  command: string;
  exitCode: number;
  findings: JsonFinding[];
}

/** Secrets of the fixtures and of the cases below: never printed, on stdout or stderr. */
const SECRETS = [
  FIXTURE_PEPPER,
  "other-pepper-456",
  FIXTURE_CLIENT_SECRETS.keycloak,
  FIXTURE_CLIENT_SECRETS.github,
  FIXTURE_MAS_SECRETS.matrix,
  FIXTURE_MAS_SECRETS.encryption,
  "ldap-bind-pw",
  "jwt-secret-xyz",
  "recaptcha-private-xyz",
];

/** Every code of the two configuration sections of checks.md that this file covers. */
const CONFIG_CODES = [
  "REGISTRATION_ENABLED",
  "USER_CONSENT",
  "CAS_CONFIGURED",
  "SAML_CONFIGURED",
  "JWT_CONFIGURED",
  "PASSWORD_PROVIDER",
  "THREEPID_CHANGES_ENABLED",
  "LOGIN_VIA_EXISTING_SESSION",
  "NO_BCRYPT_SCHEME",
  "PEPPER_MISMATCH",
  "UNICODE_NORMALIZATION_OFF",
  "NO_REHASH_SCHEME",
  "GUEST_ACCESS_ENABLED",
  "CAPTCHA_NOT_CONFIGURED",
  "TOS_NOT_CONFIGURED",
];

const BCRYPT = { version: 1, algorithm: "bcrypt", unicode_normalization: true, secret: "peppery-pepper-123" };
const ARGON2 = { version: 2, algorithm: "argon2id" };
const schemes = (...list: object[]): ConfigOverrides => ({ passwords: { enabled: true, schemes: list } });
const CONSENT = { user_consent: { version: "1.0", template_dir: "/data/consent" } };
const TOS = { branding: { tos_uri: "https://example.com/tos" } };

interface Case {
  code: string;
  severity: "warning" | "error";
  /** Synapse overrides on top of {@link GUESTS_OFF}; `"as is"` runs the fixture unchanged. */
  synapse?: ConfigOverrides | "as is";
  mas?: ConfigOverrides;
  /** Texts the message must contain: the key, and the value to set. */
  mentions: string[];
  /** Other warnings this configuration raises too, accepted so that the code under test stands alone. */
  alsoAccept?: string[];
}

const cases: Case[] = [
  {
    code: "REGISTRATION_ENABLED",
    severity: "warning",
    synapse: { enable_registration: true },
    mentions: ["`enable_registration: false`"],
  },
  // With `branding.tos_uri` set, TOS_NOT_CONFIGURED stays quiet and USER_CONSENT stands alone.
  { code: "USER_CONSENT", severity: "warning", synapse: CONSENT, mas: TOS, mentions: ["`user_consent`"] },
  {
    code: "CAS_CONFIGURED",
    severity: "warning",
    synapse: { cas_config: { server_url: "https://cas.example.com" } },
    mentions: ["`cas_config.enabled: false`"],
  },
  {
    code: "SAML_CONFIGURED",
    severity: "warning",
    synapse: { saml2_config: { sp_config: { metadata: { remote: [{ url: "https://idp.example.com/metadata" }] } } } },
    mentions: ["`saml2_config.enabled: false`"],
  },
  {
    code: "JWT_CONFIGURED",
    severity: "warning",
    synapse: { jwt_config: { enabled: true, secret: "jwt-secret-xyz", algorithm: "HS256" } },
    mentions: ["`jwt_config.enabled: false`"],
  },
  {
    code: "PASSWORD_PROVIDER",
    severity: "warning",
    synapse: {
      modules: [
        {
          module: "ldap_auth_provider.LdapAuthProviderModule",
          config: { uri: "ldap://ldap.example.com", bind_password: "ldap-bind-pw" },
        },
      ],
    },
    mentions: ["`modules`", "ldap_auth_provider.LdapAuthProviderModule"],
  },
  {
    code: "THREEPID_CHANGES_ENABLED",
    severity: "error",
    synapse: { enable_3pid_changes: true },
    mentions: ["`enable_3pid_changes: false`"],
  },
  {
    code: "LOGIN_VIA_EXISTING_SESSION",
    severity: "error",
    synapse: { login_via_existing_session: { enabled: true } },
    mentions: ["`login_via_existing_session.enabled: false`"],
  },
  {
    code: "NO_BCRYPT_SCHEME",
    severity: "error",
    mas: schemes({ version: 1, algorithm: "argon2id" }),
    mentions: ["`passwords.schemes`", "`{version: 1, algorithm: bcrypt"],
  },
  {
    code: "PEPPER_MISMATCH",
    severity: "error",
    mas: schemes({ ...BCRYPT, secret: "other-pepper-456" }, ARGON2),
    mentions: ["`password_config.pepper`", "`secret`"],
  },
  {
    code: "UNICODE_NORMALIZATION_OFF",
    severity: "error",
    mas: schemes({ ...BCRYPT, unicode_normalization: false }, ARGON2),
    mentions: ["`unicode_normalization: true`"],
  },
  {
    code: "NO_REHASH_SCHEME",
    severity: "warning",
    mas: schemes(BCRYPT),
    mentions: ["`passwords.schemes`", "`{version: 2, algorithm: argon2id}`"],
  },
  { code: "GUEST_ACCESS_ENABLED", severity: "error", synapse: "as is", mentions: ["`allow_guest_access: false`"] },
  {
    code: "CAPTCHA_NOT_CONFIGURED",
    severity: "warning",
    synapse: { enable_registration_captcha: true, recaptcha_public_key: "pub", recaptcha_private_key: "recaptcha-private-xyz" },
    mentions: ["`captcha.service", "`enable_registration_captcha: true`"],
  },
  {
    code: "TOS_NOT_CONFIGURED",
    severity: "warning",
    synapse: CONSENT,
    mentions: ["`branding.tos_uri`"],
    alsoAccept: ["USER_CONSENT"],
  },
];

/** Configurations close to a case that must raise nothing of these sections. */
const nearMisses: { name: string; synapse?: ConfigOverrides; mas?: ConfigOverrides }[] = [
  { name: "an empty cas_config section", synapse: { cas_config: null, saml2_config: null, jwt_config: null } },
  {
    name: "CAS and SAML with enabled: false, JWT without enabled: true",
    synapse: {
      cas_config: { enabled: false, server_url: "https://cas.example.com" },
      saml2_config: { enabled: false, sp_config: {} },
      jwt_config: { secret: "jwt-secret-xyz" },
    },
  },
  {
    name: "a CAPTCHA on both sides",
    synapse: { enable_registration_captcha: true, recaptcha_private_key: "recaptcha-private-xyz" },
    mas: { captcha: { service: "recaptcha_v2", site_key: "pub", secret_key: "s" } },
  },
  {
    name: "3PID changes and login via an existing session explicitly off",
    synapse: { enable_3pid_changes: false, login_via_existing_session: { enabled: false } },
  },
];

function parse(result: CliResult): CheckJson {
  assert.ok(result.stdout.trim().startsWith("{"), `JSON on stdout (exit ${result.code}): ${result.stderr}`);
  const json = JSON.parse(result.stdout) as CheckJson;
  assert.equal(json.command, "check");
  assert.equal(json.exitCode, result.code);
  return json;
}

function assertNoSecret(result: CliResult): void {
  for (const secret of SECRETS) {
    assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), "a secret was printed");
  }
}

const acceptArgs = (codes: Iterable<string>): string[] => [...codes].flatMap((code) => ["--accept-warning", code]);

/** Findings without the `accepted` flag, to compare two runs. */
const withoutAccepted = (findings: JsonFinding[]) => findings.map(({ accepted: _accepted, ...rest }) => rest);

describe("check reports each configuration problem", () => {
  let cluster: Cluster;
  const dirs: string[] = [];
  /** Warnings of the fixture pair with guests off (from its data): accepted in every case. */
  let baselineWarnings: string[] = [];

  async function scenario(
    name: string,
    synapse: ConfigOverrides | "as is" | undefined,
    mas?: ConfigOverrides,
  ): Promise<Scenario> {
    const synapseOverrides = synapse === "as is" ? undefined : { ...GUESTS_OFF, ...synapse };
    const s = await prepareScenario(cluster, name, { synapseOverrides, masOverrides: mas });
    dirs.push(s.dir);
    return s;
  }

  async function check(s: Scenario, accepted: Iterable<string>): Promise<[CliResult, CheckJson]> {
    const result = await runCli(["check", ...s.configArgs, "--json", ...acceptArgs(accepted)]);
    assertNoSecret(result);
    return [result, parse(result)];
  }

  before(async () => {
    cluster = await startCluster();
    const s = await scenario("baseline", {});
    const [result, json] = await check(s, []);
    assert.deepEqual(
      json.findings.filter((f) => f.severity === "error"),
      [],
      "the fixture pair with guests off has no error",
    );
    assert.deepEqual(
      json.findings.filter((f) => CONFIG_CODES.includes(f.code)),
      [],
      "nor any configuration finding",
    );
    baselineWarnings = [...new Set(json.findings.filter((f) => f.severity === "warning").map((f) => f.code))];
    assert.equal(result.code, baselineWarnings.length > 0 ? 11 : 0);
  });

  after(async () => {
    await cluster?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("the baseline with its data warnings accepted exits 0", async () => {
    const [result] = await check(await scenario("baseline_accepted", {}), baselineWarnings);
    assert.equal(result.code, 0, result.stderr);
  });

  for (const c of cases) {
    it(`${c.code} (${c.severity})`, async () => {
      const s = await scenario(c.code, c.synapse, c.mas);
      const accepted = [...baselineWarnings, ...(c.alsoAccept ?? [])].filter((code) => code !== c.code);
      const [result, json] = await check(s, accepted);

      const found = json.findings.filter((f) => f.code === c.code);
      assert.equal(found.length, 1, `one ${c.code} in ${JSON.stringify(json.findings.map((f) => f.code))}`);
      const f = found[0]!;
      assert.equal(f.severity, c.severity);
      assert.equal(f.accepted, false);
      for (const text of c.mentions)
        assert.ok(f.message.includes(text), `${c.code} message ${JSON.stringify(f.message)} lacks ${text}`);
      assert.ok(result.stderr.includes(`${c.severity.toUpperCase()} ${c.code}: ${f.message}`), "the text output shows it too");

      const errors = json.findings.filter((x) => x.severity === "error").map((x) => x.code);
      const openWarnings = json.findings.filter((x) => x.severity === "warning" && !x.accepted).map((x) => x.code);
      if (c.severity === "error") {
        assert.deepEqual(errors, [c.code]);
        assert.equal(result.code, 10, result.stderr);
        return;
      }
      assert.deepEqual(errors, []);
      assert.deepEqual(openWarnings, [c.code]);
      assert.equal(result.code, 11, result.stderr);

      // Accepting it: exit 0, the same findings, only its `accepted` flag changed.
      const [again, json2] = await check(s, [...accepted, c.code]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(withoutAccepted(json2.findings), withoutAccepted(json.findings));
      assert.deepEqual(
        json2.findings.map((x) => x.accepted),
        json.findings.map((x) => x.accepted || x.code === c.code),
      );
    });
  }

  for (const m of nearMisses) {
    it(`no configuration finding for ${m.name}`, async () => {
      const [result, json] = await check(await scenario("near_miss", m.synapse, m.mas), baselineWarnings);
      assert.deepEqual(
        json.findings.filter((f) => CONFIG_CODES.includes(f.code)).map((f) => f.code),
        [],
      );
      assert.equal(result.code, 0, result.stderr);
    });
  }
});
