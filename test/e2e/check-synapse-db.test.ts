/**
 * End-to-end: `syn2mas check --json` on the Synapse 1.160 fixture, each Synapse-database finding
 * provoked by SQL on a fresh clone (or an edited configuration), with its severity, exact count,
 * examples and exit code. Guest access is turned off in every scenario (it is a configuration error
 * of its own), and the fixture's own warnings are accepted so that exit 11 comes from the code
 * under test. Where `migrate` counts the same rows, a dry run must count the same number.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { FIXTURE_MAS_PROVIDERS } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { describeRun } from "../harness/background.ts";
import { prepareScenario, runCli, type CliResult, type Scenario, type ScenarioOptions } from "../harness/scenario.ts";
import type { FindingJson as JsonFinding } from "../../src/cli/render.ts";

interface CheckJson {
  command: string;
  exitCode: number;
  findings: JsonFinding[];
}

interface Expected {
  severity: "error" | "warning" | "info";
  /** null: a finding with no count. */
  count: number | null;
  examples?: string[];
  message?: (string | RegExp)[];
}

/** What the fixture itself reports, guest access off. */
const BASELINE: Record<string, Expected> = {
  GUEST_USERS: { severity: "warning", count: 2, examples: ["@1:example.com", "@2:example.com"] },
  NON_EMAIL_THREEPIDS: {
    severity: "warning",
    count: 3,
    examples: ["@user0011:example.com", "@user0022:example.com", "@user0033:example.com"],
  },
  PUPPET_TOKENS: { severity: "info", count: 2, examples: ["@admin:example.com"] },
  // The fixture's refresh tokens were made with a 24-hour lifetime: every one of them has ended.
  ENDED_SESSIONS: {
    severity: "info",
    count: 31,
    examples: [
      "@user0002:example.com",
      "@user0008:example.com",
      "@user0009:example.com",
      "@user0010:example.com",
      "@user0011:example.com",
    ],
  },
  APPSERVICE_USERS: {
    severity: "info",
    count: 3,
    examples: ["@bridge_1:example.com", "@bridge_2:example.com", "@bridge_3:example.com"],
    message: ["devices: 3", "access_tokens: 3"],
  },
  // The harness's cluster runs with PostgreSQL's default wal_level.
  ONLINE_MIGRATION: { severity: "info", count: null, message: ["An online migration is possible", "wal_level = replica"] },
};
const BASELINE_WARNINGS = Object.keys(BASELINE).filter((code) => BASELINE[code]?.severity === "warning");

const { keycloak: KEYCLOAK, github: GITHUB } = FIXTURE_MAS_PROVIDERS;

/** A token row for access_tokens (id, user, device, token, puppet), validated in 2023, no refresh token. */
function tokenRow(id: number, user: string, device: string | null, token: string, puppet: string | null = null): string {
  const q = (v: string | null): string => (v === null ? "NULL" : `'${v}'`);
  return `(${id}, '${user}:example.com', ${q(device)}, '${token}', NULL, ${q(puppet)}, 1700000000000, NULL, NULL)`;
}
const TOKEN_COLUMNS = "(id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used)";

describe("check reports the Synapse database's findings", () => {
  let cluster: Cluster;
  const dirs: string[] = [];

  before(async () => {
    cluster = await startCluster();
  });

  after(async () => {
    await cluster?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh scenario with guest access off, then `sql` applied to its Synapse database. */
  async function scenario(name: string, sql?: string, options: ScenarioOptions = {}): Promise<Scenario> {
    const s = await prepareScenario(cluster, name, {
      ...options,
      synapseOverrides: { allow_guest_access: false, ...options.synapseOverrides },
    });
    dirs.push(s.dir);
    if (sql !== undefined) await cluster.sql(s.synapseDb, sql);
    return s;
  }

  /** `check --json` with `extra` flags; its JSON, with the exit code it claims equal to the real one. */
  async function check(s: Scenario, extra: string[] = []): Promise<{ result: CliResult; json: CheckJson }> {
    const result = await runCli(["check", ...s.configArgs, "--json", ...extra]);
    assert.doesNotMatch(result.stderr, /^\s+at /m, describeRun(result));
    let json: CheckJson;
    try {
      json = JSON.parse(result.stdout) as CheckJson;
    } catch {
      assert.fail(`stdout is not JSON\n${describeRun(result)}`);
    }
    assert.equal(json.command, "check");
    assert.equal(json.exitCode, result.code, describeRun(result));
    return { result, json };
  }

  /** `--accept-warning` for each baseline warning but `except`. */
  function acceptBaseline(except?: string): string[] {
    return BASELINE_WARNINGS.filter((code) => code !== except).flatMap((code) => ["--accept-warning", code]);
  }

  /** The findings with `code`. */
  function withCode(json: CheckJson, code: string): JsonFinding[] {
    return json.findings.filter((f) => f.code === code);
  }

  /** Exactly one finding with `code`, as expected. */
  function assertFinding(json: CheckJson, code: string, expected: Expected): JsonFinding {
    const found = withCode(json, code);
    assert.equal(found.length, 1, `one ${code} finding expected:\n${JSON.stringify(json.findings, null, 1)}`);
    const f = found[0] as JsonFinding;
    assert.equal(f.severity, expected.severity, `${code} severity`);
    assert.equal(f.count, expected.count, `${code} count: ${f.message}`);
    if (expected.examples !== undefined) assert.deepEqual(f.examples, expected.examples, `${code} examples`);
    for (const m of expected.message ?? []) {
      if (typeof m === "string") assert.ok(f.message.includes(m), `${code} message should contain ${m}: ${f.message}`);
      else assert.match(f.message, m, `${code} message`);
    }
    return f;
  }

  function assertNoErrors(json: CheckJson): void {
    const errors = json.findings.filter((f) => f.severity === "error");
    assert.deepEqual(errors, [], "no error finding expected");
  }

  /**
   * A warning under test: exit 11 with the fixture's other warnings accepted (the finding itself
   * not accepted), then exit 0 once it is accepted too. Returns the first run's JSON.
   */
  async function assertWarning(s: Scenario, code: string, expected: Omit<Expected, "severity">): Promise<CheckJson> {
    const { result, json } = await check(s, acceptBaseline(code));
    assert.equal(result.code, 11, describeRun(result));
    assertNoErrors(json);
    assert.equal(assertFinding(json, code, { ...expected, severity: "warning" }).accepted, false);
    const accepted = await check(s, [...acceptBaseline(code), "--accept-warning", code]);
    assert.equal(accepted.result.code, 0, describeRun(accepted.result));
    assert.equal(withCode(accepted.json, code)[0]?.accepted, true);
    return json;
  }

  /** An error under test: exit 10 even with every warning accepted. */
  async function assertError(
    s: Scenario,
    code: string,
    expected: Omit<Expected, "severity">,
    extra: string[] = [],
  ): Promise<CheckJson> {
    const { result, json } = await check(s, ["--accept-all-warnings", ...extra]);
    assert.equal(result.code, 10, describeRun(result));
    assertFinding(json, code, { ...expected, severity: "error" });
    return json;
  }

  /** `migrate --dry-run --json`'s report (the run must succeed). */
  async function dryRunReport(
    s: Scenario,
  ): Promise<{ skipped: Record<string, Record<string, number>>; notes: Record<string, Record<string, number>> }> {
    const result = await runCli(["migrate", ...s.configArgs, "--dry-run", "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    return (
      JSON.parse(result.stdout) as {
        report: { skipped: Record<string, Record<string, number>>; notes: Record<string, Record<string, number>> };
      }
    ).report;
  }

  // ---------------------------------------------------------------- the fixture itself

  it("the fixture: no error, exactly its warnings and information, exit 11; 0 once they are accepted; nothing written", async () => {
    const s = await scenario("baseline");
    const before = await cluster.dump(s.synapseDb);
    const { result, json } = await check(s);
    assert.equal(await cluster.dump(s.synapseDb), before, "check changed the Synapse database");
    assert.equal(result.code, 11, describeRun(result));
    assertNoErrors(json);
    assert.deepEqual(json.findings.map((f) => f.code).sort(), Object.keys(BASELINE).sort(), describeRun(result));
    for (const [code, expected] of Object.entries(BASELINE)) assertFinding(json, code, expected);
    const accepted = await check(s, acceptBaseline());
    assert.equal(accepted.result.code, 0, describeRun(accepted.result));
    for (const code of BASELINE_WARNINGS) assert.equal(withCode(accepted.json, code)[0]?.accepted, true);
  });

  // ---------------------------------------------------------------- errors

  it("OAUTH_DELEGATED_IDS: ids left by an earlier MAS cut-over, with the DELETE to run; not also an unknown provider", async () => {
    const s = await scenario(
      "oauth-delegated",
      `INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES
         ('oauth-delegated', '01JSHPZHAXC50QBKH67MH33TN1', '@user0015:example.com'),
         ('oauth-delegated', '01JSHPZHAXC50QBKH67MH33TN2', '@user0010:example.com'),
         ('oauth-delegated', '01JSHPZHAXC50QBKH67MH33TN3', '@bridge_1:example.com')`,
    );
    const json = await assertError(s, "OAUTH_DELEGATED_IDS", {
      count: 2,
      examples: ["@user0010:example.com", "@user0015:example.com"],
      message: ["DELETE FROM user_external_ids WHERE auth_provider = 'oauth-delegated'"],
    });
    assert.deepEqual(withCode(json, "UNKNOWN_AUTH_PROVIDER"), []);
    assert.deepEqual(withCode(json, "PROVIDER_NOT_IN_MAS"), []);
  });

  it("UNKNOWN_AUTH_PROVIDER: one per provider the Synapse configuration lacks; saml is known once saml2_config is present", async () => {
    const sql = `INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES
      ('oidc-gitlab', 'g1', '@user0010:example.com'), ('oidc-gitlab', 'g2', '@user0015:example.com'),
      ('oidc-gitlab', 'g3', '@user0016:example.com'), ('oidc-gitlab', 'g4', '@bridge_2:example.com'),
      ('saml', 'alice@idp.example.com', '@user0017:example.com')`;
    const s = await scenario("unknown-provider", sql);
    const { result, json: both } = await check(s, ["--accept-all-warnings"]);
    assert.equal(result.code, 10, describeRun(result));
    const unknown = withCode(both, "UNKNOWN_AUTH_PROVIDER").map((f) => [f.severity, f.count, f.examples]);
    assert.deepEqual(unknown, [
      ["error", 3, ["oidc-gitlab"]],
      ["error", 1, ["saml"]],
    ]);
    const gitlab = withCode(both, "UNKNOWN_AUTH_PROVIDER")[0] as JsonFinding;
    assert.ok(gitlab.message.includes("DELETE FROM user_external_ids WHERE auth_provider = 'oidc-gitlab'"), gitlab.message);
    assert.match(gitlab.message, /oidc-keycloak, oidc-github/);
    // Unmapped in MAS too, which is a finding of its own.
    const unmapped = withCode(both, "PROVIDER_NOT_IN_MAS").map((f) => [f.count, f.examples]);
    assert.deepEqual(unmapped, [
      [3, ["oidc-gitlab"]],
      [1, ["saml"]],
    ]);

    const withSaml = await scenario("unknown-provider-saml", sql, { synapseOverrides: { saml2_config: { sp_config: {} } } });
    const second = await assertError(withSaml, "UNKNOWN_AUTH_PROVIDER", { count: 3, examples: ["oidc-gitlab"] });
    assert.equal(withCode(second, "PROVIDER_NOT_IN_MAS").length, 2);
  });

  it("PROVIDER_NOT_IN_MAS names the MAS provider with Synapse's issuer, or asks for a new one", async () => {
    const { synapse_idp_id: _unused, ...keycloakWithoutIdpId } = KEYCLOAK;
    const s = await scenario("provider-issuer", undefined, {
      masOverrides: { upstream_oauth2: { providers: [keycloakWithoutIdpId, GITHUB] } },
    });
    await assertError(s, "PROVIDER_NOT_IN_MAS", {
      count: 9,
      examples: ["oidc-keycloak"],
      message: [
        /add `synapse_idp_id: oidc-keycloak` to the provider with issuer https:\/\/id\.example\.com\/realms\/matrix/i,
        KEYCLOAK.id,
      ],
    });

    const none = await scenario("provider-no-issuer", undefined, { masOverrides: { upstream_oauth2: { providers: [GITHUB] } } });
    await assertError(none, "PROVIDER_NOT_IN_MAS", {
      count: 9,
      examples: ["oidc-keycloak"],
      message: [
        "No MAS provider has Synapse's issuer https://id.example.com/realms/matrix",
        "add a provider with that issuer and `synapse_idp_id: oidc-keycloak`",
      ],
    });
  });

  it("FOREIGN_USER_IDS and ORPHAN_ROWS: errors, or information with --skip-invalid-rows", async () => {
    const s = await scenario(
      "invalid-rows",
      `INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at)
         VALUES ('@eve:evil.example', 'email', 'eve@evil.example', 1700000000000, 1700000000000);
       INSERT INTO devices (user_id, device_id, display_name, ip) VALUES ('@ghost:example.com', 'GHOST DEV', NULL, 'junk')`,
    );
    const json = await assertError(s, "FOREIGN_USER_IDS", {
      count: 1,
      examples: ["@eve:evil.example"],
      message: ["user_threepids: 1"],
    });
    assertFinding(json, "ORPHAN_ROWS", {
      severity: "error",
      count: 1,
      examples: ["@ghost:example.com"],
      message: ["devices: 1"],
    });
    // The orphan device is nobody's session: no device finding counts it.
    assert.deepEqual(withCode(json, "UNENCODABLE_DEVICE_IDS"), []);
    assert.deepEqual(withCode(json, "UNPARSABLE_DEVICE_IPS"), []);
    const skipping = await check(s, [...acceptBaseline(), "--skip-invalid-rows"]);
    assert.equal(skipping.result.code, 0, describeRun(skipping.result));
    assertFinding(skipping.json, "FOREIGN_USER_IDS", { severity: "info", count: 1 });
    assertFinding(skipping.json, "ORPHAN_ROWS", { severity: "info", count: 1 });
  });

  // ---------------------------------------------------------------- warnings

  it("PENDING_BACKGROUND_UPDATES: counted, named in Synapse's order", async () => {
    const s = await scenario(
      "background-updates",
      `INSERT INTO background_updates (update_name, progress_json, ordering) VALUES
         ('populate_stats_process_rooms', '{}', 2), ('users_set_deactivated_flag', '{}', 1)`,
    );
    await assertWarning(s, "PENDING_BACKGROUND_UPDATES", {
      count: 2,
      examples: ["users_set_deactivated_flag", "populate_stats_process_rooms"],
      message: [/start Synapse/i],
    });
  });

  it("GUEST_USERS: local guests, deactivated ones included, not application-service users", async () => {
    const s = await scenario(
      "guests",
      `INSERT INTO users (name, creation_ts, is_guest, deactivated, appservice_id) VALUES
         ('@3:example.com', 1700000000, 1, 0, NULL), ('@4:example.com', 1700000000, 1, 1, NULL),
         ('@bridge_guest:example.com', 1700000000, 1, 0, 'testbridge')`,
    );
    const json = await assertWarning(s, "GUEST_USERS", {
      count: 4,
      examples: ["@1:example.com", "@2:example.com", "@3:example.com", "@4:example.com"],
    });
    assertFinding(json, "APPSERVICE_USERS", { severity: "info", count: 4 });
  });

  it("NON_EMAIL_THREEPIDS: phone numbers of users that keep them (not of deactivated users)", async () => {
    const s = await scenario(
      "non-email-threepids",
      `INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES
         ('@user0010:example.com', 'msisdn', '447910000110', 1700000000000, 1700000000000),
         ('@user0003:example.com', 'msisdn', '447910000103', 1700000000000, 1700000000000),
         ('@user0015:example.com', 'email', 'user0015@mail.example.org', 1700000000000, 1700000000000)`,
    );
    const json = await assertWarning(s, "NON_EMAIL_THREEPIDS", {
      count: 4,
      examples: ["@user0010:example.com", "@user0011:example.com", "@user0022:example.com", "@user0033:example.com"],
    });
    assert.ok(!JSON.stringify(json).includes("447910000110"), "a phone number was printed");
  });

  it("MACAROON_TOKENS: old-format tokens migrate would write, never printed", async () => {
    const macaroon = (tag: string): string => `MDAxOGxvY2F0aW9uIGV4YW1wbGUuY29tCjAwMTNpZGVudGlmaWVyIGtleQo${tag}`;
    const s = await scenario(
      "macaroons",
      `INSERT INTO access_tokens ${TOKEN_COLUMNS} VALUES
         ${tokenRow(2001, "@user0010", "PGSHJXWZJX", macaroon("device"))},
         ${tokenRow(2002, "@user0015", null, macaroon("deviceless"))},
         ${tokenRow(2003, "@1", "guest_device", macaroon("guest"))},
         ${tokenRow(2004, "@user0016", null, macaroon("puppet"), "@admin:example.com")},
         ${tokenRow(2005, "@user0010", "NOSUCHDEVICE", macaroon("missingdevice"))},
         ${tokenRow(2006, "@bridge_1", "FSJSLMQQMI", macaroon("appservice"))}`,
    );
    const json = await assertWarning(s, "MACAROON_TOKENS", {
      count: 2,
      examples: ["@user0010:example.com", "@user0015:example.com"],
      message: [/log in again/],
    });
    assertFinding(json, "DEVICELESS_TOKENS", { severity: "info", count: 1, examples: ["@user0015:example.com"] });
    assertFinding(json, "PUPPET_TOKENS", { severity: "info", count: 3 });
    const result = await runCli(["check", ...s.configArgs, "--json"]);
    assert.ok(!`${result.stdout}${result.stderr}`.includes("MDAx"), `a token was printed\n${describeRun(result)}`);
  });

  it("NULL_CREATION_TS: users without a creation time get the migration's start time", async () => {
    const s = await scenario(
      "null-creation-ts",
      "UPDATE users SET creation_ts = NULL WHERE name IN ('@user0015:example.com', '@user0010:example.com', '@bridge_1:example.com')",
    );
    await assertWarning(s, "NULL_CREATION_TS", {
      count: 2,
      examples: ["@user0010:example.com", "@user0015:example.com"],
      message: [/migration's start time/],
    });
  });

  it("UNUSUAL_LOCALPARTS: localparts outside the user id grammar, application services aside", async () => {
    const s = await scenario(
      "unusual-localparts",
      // With user0001's password, so that they can log in (else USERS_WITHOUT_LOGIN fires beside it).
      `INSERT INTO users (name, creation_ts, appservice_id, password_hash)
       SELECT v.name, 1700000000, v.appservice_id, (SELECT password_hash FROM users WHERE name = '@user0001:example.com')
         FROM (VALUES ('@Alice:example.com', NULL), ('@bob smith:example.com', NULL),
                      ('@carol=x/y+z-1._:example.com', NULL), ('@Bridge_X:example.com', 'testbridge')) AS v (name, appservice_id)`,
    );
    const json = await assertWarning(s, "UNUSUAL_LOCALPARTS", {
      count: 2,
      examples: ["@Alice:example.com", "@bob smith:example.com"],
      message: [/verbatim/],
    });
    assertFinding(json, "APPSERVICE_USERS", { severity: "info", count: 4 });
  });

  it("UNENCODABLE_DEVICE_IDS: device ids a scope token cannot carry, on sessions migrate writes; five listed", async () => {
    const ids = ["a b", 'b"c', "c\\d", "d\te", "é", "f\x7fg", "GOOD-id_1.2~!#$%&'()*+,/:;<=>?@[]^`{|}"];
    const s = await scenario("unencodable-device-ids");
    await cluster.sql(
      s.synapseDb,
      "INSERT INTO devices (user_id, device_id, hidden) SELECT '@user0010:example.com', unnest($1::text[]), false",
      [ids],
    );
    await cluster.sql(
      s.synapseDb,
      `INSERT INTO devices (user_id, device_id, hidden) VALUES
         ('@user0010:example.com', 'master signing key', true), ('@1:example.com', 'guest phone', false),
         ('@user0003:example.com', 'deactivated phone', false), ('@bridge_1:example.com', 'bridge device', false)`,
    );
    await assertWarning(s, "UNENCODABLE_DEVICE_IDS", {
      count: 6,
      examples: ["a b", 'b"c', "c\\d", "d\te", "f\x7fg"],
      message: [/scope/, String.raw`The first ones: "a b", "b\"c", "c\\d", "d\te", "f\u007fg".`],
    });
  });

  it("PASSWORDS_DISABLED: MAS passwords off while Synapse users have hashes, never printed", async () => {
    const s = await scenario("passwords-disabled", undefined, {
      masOverrides: {
        passwords: {
          enabled: false,
          schemes: [
            { version: 1, algorithm: "bcrypt", unicode_normalization: true, secret: "peppery-pepper-123" },
            { version: 2, algorithm: "argon2id" },
          ],
        },
      },
    });
    const first = await cluster.sql<{ name: string }>(
      s.synapseDb,
      "SELECT name FROM users WHERE password_hash <> '' AND appservice_id IS NULL ORDER BY name LIMIT 5",
    );
    const json = await assertWarning(s, "PASSWORDS_DISABLED", {
      count: 38,
      examples: first.map((r) => r.name),
      message: ["passwords.enabled: false"],
    });
    assert.ok(!JSON.stringify(json).includes("$2b$"), "a hash was printed");
    // Passwords on (the fixture): no finding.
    const on = await check(await scenario("passwords-enabled"), acceptBaseline());
    assert.deepEqual(withCode(on.json, "PASSWORDS_DISABLED"), []);
  });

  // ---------------------------------------------------------------- information, counted as migrate counts

  it("UNPARSABLE_DEVICE_IPS: what is not an IP literal, as many as migrate stores as NULL", async () => {
    const devices: [string, string | null][] = [
      ["IP1", "not-an-ip"],
      ["IP2", "::ffff:192.0.2.1"],
      ["IP3", "2001:DB8::1"],
      ["IP4", "fe80::1%eth0"],
      ["IP5", "300.1.1.1"],
      ["IP6", "-"],
      ["IP7", " 192.0.2.7 "],
      ["IP8", "01.2.3.4"],
      ["IP9", "1:2:3:4:5:6:7:8:9"],
      ["IPA", ""],
      ["IPB", null],
      ["IPC", "1:2:3:4:5:6:7::"],
      ["IPD", "192.0.2.1:8008"],
    ];
    const s = await scenario("unparsable-ips");
    await cluster.sql(
      s.synapseDb,
      "INSERT INTO devices (user_id, device_id, ip, hidden) SELECT '@user0015:example.com', d, i, false FROM unnest($1::text[], $2::text[]) AS x(d, i)",
      [devices.map(([d]) => d), devices.map(([, ip]) => ip)],
    );
    await cluster.sql(
      s.synapseDb,
      `INSERT INTO devices (user_id, device_id, ip, hidden) VALUES ('@user0015:example.com', 'self_signing key', 'junk', true);
       UPDATE devices SET ip = 'junk' WHERE user_id = '@2:example.com'`,
    );
    const { result, json } = await check(s, acceptBaseline());
    assert.equal(result.code, 0, describeRun(result));
    assertFinding(json, "UNPARSABLE_DEVICE_IPS", {
      severity: "info",
      count: 6,
      examples: ["IP1", "IP4", "IP5", "IP8", "IP9"],
      message: [/NULL/],
    });
    const report = await dryRunReport(s);
    assert.equal(report.notes.devices?.unparsable_ip_stored_as_null, 6, JSON.stringify(report));
  });

  it("APPSERVICE_USERS: counted with the rows that stay behind with them", async () => {
    const s = await scenario(
      "appservice-users",
      `INSERT INTO users (name, creation_ts, appservice_id) VALUES ('@bridge_4:example.com', 1700000000, 'testbridge');
       INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at)
         VALUES ('@bridge_4:example.com', 'email', 'bridge4@mail.example.org', 1700000000000, 1700000000000);
       INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ('oidc-unknown', 'b4', '@bridge_4:example.com')`,
    );
    const { result, json } = await check(s, acceptBaseline());
    assert.equal(result.code, 0, describeRun(result));
    assertFinding(json, "APPSERVICE_USERS", {
      severity: "info",
      count: 4,
      examples: ["@bridge_1:example.com", "@bridge_2:example.com", "@bridge_3:example.com", "@bridge_4:example.com"],
      message: ["devices: 3", "access_tokens: 3", "user_threepids: 1", "user_external_ids: 1"],
    });
    // Their external ids are never linked: no provider finding.
    assert.deepEqual(withCode(json, "UNKNOWN_AUTH_PROVIDER"), []);
    assert.deepEqual(withCode(json, "PROVIDER_NOT_IN_MAS"), []);
  });

  it("PUPPET_TOKENS and DEVICELESS_TOKENS: the same counts as migrate's report", async () => {
    const s = await scenario(
      "puppets-deviceless",
      `INSERT INTO devices (user_id, device_id, hidden) VALUES ('@user0010:example.com', 'master signing key', true);
       INSERT INTO access_tokens ${TOKEN_COLUMNS} VALUES
         ${tokenRow(3001, "@user0010", "PGSHJXWZJX", "syt_p_device", "@admin:example.com")},
         ${tokenRow(3002, "@1", "guest_device", "syt_p_guest_device", "@admin:example.com")},
         ${tokenRow(3003, "@2", null, "syt_p_guest_deviceless", "@admin:example.com")},
         ${tokenRow(3004, "@bridge_1", null, "syt_p_appservice", "@admin:example.com")},
         ${tokenRow(3005, "@user0010", "master signing key", "syt_p_hidden", "@admin:example.com")},
         ${tokenRow(3006, "@user0010", null, "syt_deviceless_1")},
         ${tokenRow(3007, "@user0015", null, "syt_deviceless_2")},
         ${tokenRow(3008, "@user0003", null, "syt_deviceless_deactivated")},
         ${tokenRow(3009, "@1", null, "syt_deviceless_guest")}`,
    );
    const { result, json } = await check(s, acceptBaseline());
    assert.equal(result.code, 0, describeRun(result));
    assertFinding(json, "PUPPET_TOKENS", {
      severity: "info",
      count: 4,
      examples: ["@2:example.com", "@admin:example.com", "@user0010:example.com"],
    });
    assertFinding(json, "DEVICELESS_TOKENS", {
      severity: "info",
      count: 2,
      examples: ["@user0010:example.com", "@user0015:example.com"],
      message: [/its own/],
    });
    const report = await dryRunReport(s);
    assert.equal(report.skipped.access_tokens?.puppet_token, 4, JSON.stringify(report));
    assert.equal(report.notes.access_tokens?.deviceless_token_own_session, 2, JSON.stringify(report));
  });
});
