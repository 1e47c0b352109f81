/**
 * Values the mapping cannot turn into MAS values as they are, on copies of the fixture: timestamps
 * out of MAS's range (a creation_ts in milliseconds, the int64 limit, negative times), password
 * hashes MAS cannot verify, and duplicate rows a Synapse without its constraints can hold. `check`
 * finds each (count and user ids); `migrate` applies the documented treatment, or refuses before
 * writing anything, and never dies with an internal error.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { synapseSqliteDb } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { describeRun } from "../harness/background.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { ms, type Row } from "../harness/rows.ts";
import { scratchDir } from "../harness/scratch.ts";
import { copySqliteFixture, prepareSqliteScenario, writeSqlite } from "../harness/sqlite.ts";

type Skipped = Record<string, Record<string, number>>;

interface Finding {
  code: string;
  severity: string;
  message: string;
  count?: number;
  examples?: string[];
}

interface Report {
  written: Record<string, number>;
  skipped: Skipped;
}

const INT64_MAX = "9223372036854775807";
/** The latest time MAS holds: 9999-12-31T23:59:59.999Z. */
const MAX_TIME_MS = 253_402_300_799_999;

/**
 * Users with odd creation times and the rows of an ordinary user (user0012) with odd times, in the
 * spelling both PostgreSQL and SQLite take.
 */
const ODD_TIMES_SQL = `
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated) VALUES
  ('@millis:example.com', NULL, 1700000000000, 0, 0, 0),           -- milliseconds: taken as such
  ('@int64:example.com', NULL, ${INT64_MAX}, 0, 0, 0),             -- unknown: the migration's start
  ('@negative:example.com', NULL, -5, 0, 0, 0),                    -- unknown: the migration's start
  ('@lastsecond:example.com', NULL, 253402300799, 0, 0, 0);        -- 9999-12-31T23:59:59Z: in range
INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES
  ('@millis:example.com', 'email', 'millis@example.org', 1, ${INT64_MAX});  -- the user's creation time
INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden) VALUES
  ('@user0012:example.com', 'FARFUTURE', NULL, ${INT64_MAX}, NULL, NULL, false),   -- last_active_at NULL
  ('@user0012:example.com', 'BEFORE1970', NULL, -1, NULL, NULL, false);          -- last_active_at NULL
INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
  (7001, '@user0012:example.com', 'FARFUTURE', 'syt_odd_forever', ${INT64_MAX}, NULL, ${INT64_MAX}, NULL, false),  -- no expiry, created at the start
  (7002, '@user0012:example.com', 'BEFORE1970', 'syt_odd_expired', -1, NULL, -7, NULL, false),                  -- expired in 1970, created at the start
  (7003, '@user0012:example.com', NULL, 'syt_odd_last_ms', ${MAX_TIME_MS}, NULL, ${MAX_TIME_MS}, NULL, false);   -- in range, kept as is
`;

/** Password hashes MAS cannot verify, each on its own user. */
const ODD_HASHES_SQL = `
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated) VALUES
  ('@hash_x:example.com', 'x', 1700000001, 0, 0, 0),
  ('@hash_argon:example.com', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', 1700000002, 0, 0, 0),
  ('@hash_short:example.com', '$2b$12$FJC2QU8avrvT.BNFlkEwxuef.tMLiwwhksUIvfOdlxg98g3pcSP', 1700000003, 0, 0, 0),
  ('@hash_bcrypt:example.com', '$2a$10$FJC2QU8avrvT.BNFlkEwxuef.tMLiwwhksUIvfOdlxg98g3pcSPsG', 1700000004, 0, 0, 0);
`;

describe("values the mapping cannot convert as they are", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => cluster?.stop());

  describe("timestamps out of range and unusable password hashes (PostgreSQL)", () => {
    let s: Scenario;
    let findings: Map<string, Finding>;
    let wouldSkip: Skipped;
    let report: Report;
    let migrateStderr: string;
    let startedBefore: number;
    let startedAfter: number;
    const mas = (sql: string) => cluster.sql<Row>(s.masDb, sql);

    before(async () => {
      s = await prepareScenario(cluster, "odd_values", { synapseOverrides: GUESTS_OFF });
      await cluster.sql(s.synapseDb, ODD_TIMES_SQL + ODD_HASHES_SQL);
      const check = await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]);
      assert.equal(check.code, 0, describeRun(check));
      const checked = JSON.parse(check.stdout) as { findings: Finding[]; wouldSkip: Skipped };
      findings = new Map(checked.findings.map((f) => [f.code, f]));
      wouldSkip = checked.wouldSkip;
      startedBefore = Date.now();
      const migrate = await runCli(["migrate", ...s.configArgs, "--json", "--accept-all-warnings"]);
      startedAfter = Date.now();
      migrateStderr = migrate.stderr;
      assert.equal(migrate.code, 0, describeRun(migrate));
      report = (JSON.parse(migrate.stdout) as { report: Report }).report;
    });

    it("check finds every out-of-range time, per column, with the user ids", () => {
      const found = findings.get("OUT_OF_RANGE_TIMESTAMPS");
      assert.equal(found?.severity, "warning");
      assert.equal(found?.count, 3 + 1 + 2 + 2 + 2);
      assert.deepEqual(found?.examples, [
        "@int64:example.com",
        "@millis:example.com",
        "@negative:example.com",
        "@user0012:example.com",
      ]);
      for (const part of [
        "users.creation_ts: 3",
        "user_threepids.added_at: 1",
        "devices.last_seen: 2",
        "access_tokens.valid_until_ms: 2",
        "access_tokens.last_validated: 2",
      ]) {
        assert.ok(found?.message.includes(part), `${part} in: ${found?.message}`);
      }
    });

    it("check finds the hashes MAS cannot verify, by user id, never showing a hash", () => {
      const found = findings.get("UNUSABLE_PASSWORD_HASHES");
      assert.equal(found?.severity, "warning");
      assert.equal(found?.count, 3);
      assert.deepEqual(found?.examples, ["@hash_argon:example.com", "@hash_short:example.com", "@hash_x:example.com"]);
      assert.doesNotMatch(JSON.stringify(found), /argon2id|\$2b\$/);
      assert.deepEqual(wouldSkip.passwords, { no_password_hash: 9 + 4, unusable_password_hash: 3 });
    });

    it("migrate never dies on them, and counts what check counted", () => {
      assert.doesNotMatch(migrateStderr, /internal error|Invalid time value|out of range/);
      assert.deepEqual(report.skipped, wouldSkip);
    });

    it("creation_ts: milliseconds are taken as such, unknown values become the migration's start, in-range ones are kept", async () => {
      const users = new Map(
        (await mas("SELECT username, created_at, user_id::text AS id FROM users")).map((u) => [u.username, u]),
      );
      assert.equal(ms(users.get("millis")?.created_at), 1_700_000_000_000);
      assert.equal(ms(users.get("lastsecond")?.created_at), 253_402_300_799_000);
      for (const name of ["int64", "negative"]) {
        const created = ms(users.get(name)?.created_at) as number;
        assert.ok(created >= startedBefore && created <= startedAfter, `${name} created at the migration's start`);
        // The ULID's time part is the creation time.
        assert.equal(parseInt((users.get(name)?.id as string).replace(/-/g, "").slice(0, 12), 16), created);
      }
      const email = await mas("SELECT e.created_at FROM user_emails e JOIN users u USING (user_id) WHERE u.username = 'millis'");
      assert.deepEqual(
        email.map((e) => ms(e.created_at)),
        [1_700_000_000_000],
        "an unknown added_at is the user's creation time",
      );
    });

    it("devices and tokens: out-of-range times become unknown, far expiries none, negative ones expired", async () => {
      const sessions = await mas(
        "SELECT device_id, last_active_at, created_at FROM compat_sessions WHERE device_id IN ('FARFUTURE', 'BEFORE1970') ORDER BY 1",
      );
      assert.deepEqual(
        sessions.map((x) => [x.device_id, ms(x.last_active_at)]),
        [
          ["BEFORE1970", null],
          ["FARFUTURE", null],
        ],
      );
      const tokens = new Map(
        (
          await mas("SELECT access_token, expires_at, created_at FROM compat_access_tokens WHERE access_token LIKE 'syt_odd_%'")
        ).map((t) => [t.access_token, t]),
      );
      assert.equal(ms(tokens.get("syt_odd_forever")?.expires_at), null);
      assert.equal(ms(tokens.get("syt_odd_expired")?.expires_at), 0);
      assert.equal(ms(tokens.get("syt_odd_last_ms")?.expires_at), MAX_TIME_MS);
      assert.equal(ms(tokens.get("syt_odd_last_ms")?.created_at), MAX_TIME_MS);
      for (const token of ["syt_odd_forever", "syt_odd_expired"]) {
        const created = ms(tokens.get(token)?.created_at) as number;
        assert.ok(created >= startedBefore && created <= startedAfter, `${token} created at the migration's start`);
      }
    });

    it("users whose hash MAS cannot verify are migrated without a password row; a bcrypt $2a$ hash is kept", async () => {
      const rows = await mas(
        `SELECT u.username, p.hashed_password FROM users u LEFT JOIN user_passwords p USING (user_id)
          WHERE u.username LIKE 'hash_%' ORDER BY 1`,
      );
      assert.deepEqual(rows, [
        { username: "hash_argon", hashed_password: null },
        { username: "hash_bcrypt", hashed_password: "$2a$10$FJC2QU8avrvT.BNFlkEwxuef.tMLiwwhksUIvfOdlxg98g3pcSPsG" },
        { username: "hash_short", hashed_password: null },
        { username: "hash_x", hashed_password: null },
      ]);
    });
  });

  it("duplicate ids and tokens (Synapse's constraints dropped): an error in check, and migrate refuses before writing anything", async () => {
    const s = await prepareScenario(cluster, "odd_duplicates", { synapseOverrides: GUESTS_OFF });
    await cluster.sql(
      s.synapseDb,
      `ALTER TABLE access_tokens DROP CONSTRAINT access_tokens_pkey CASCADE;
       ALTER TABLE access_tokens DROP CONSTRAINT access_tokens_token_key;
       ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_token_key;
       ALTER TABLE devices DROP CONSTRAINT device_uniqueness CASCADE;
       -- user0016's token id again, user0017's token again, user0002's refresh token again, user0016's device again.
       INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used)
         VALUES (33, '@user0013:example.com', NULL, 'syt_duplicate_id', NULL, NULL, 1795406000001, NULL, false);
       INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used)
         SELECT 8001, '@user0014:example.com', NULL, token, NULL, NULL, 1795406000002, NULL, false
           FROM access_tokens WHERE user_id = '@user0017:example.com' ORDER BY id LIMIT 1;
       INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id)
         SELECT 8002, '@user0015:example.com', 'X', token, NULL FROM refresh_tokens WHERE id = 2;
       INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden)
         SELECT user_id, device_id, 'again', last_seen, ip, user_agent, hidden FROM devices
          WHERE user_id = '@user0016:example.com' AND device_id = 'QFRHGHEXSQ';
       -- A second access token of user0008's paired with its refresh token 7 (no constraint needed dropping).
       INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used)
         VALUES (8003, '@user0008:example.com', 'KNEEOMJOTJ', 'syt_second_on_refresh_7', NULL, NULL, 1795406000003, 7, false);`,
    );
    const check = await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]);
    assert.equal(check.code, 10, describeRun(check));
    const found = (JSON.parse(check.stdout) as { findings: Finding[] }).findings.find((f) => f.code === "DUPLICATE_ROWS");
    assert.equal(found?.severity, "error");
    assert.equal(found?.count, 2 + 2 + 2 + 2 + 2, JSON.stringify(found));
    for (const part of [
      "devices.user_id, device_id: 2",
      "access_tokens.id: 2",
      "access_tokens.token: 2",
      "refresh_tokens.token: 2",
      "access_tokens.refresh_token_id: 2",
    ]) {
      assert.ok(found?.message.includes(part), `${part} in: ${found?.message}`);
    }
    assert.deepEqual(found?.examples, [
      "@user0002:example.com",
      "@user0008:example.com",
      "@user0013:example.com",
      "@user0014:example.com",
      "@user0015:example.com",
    ]);
    assert.doesNotMatch(JSON.stringify(found), /syt_|syr_/, "no token in the finding");

    const migrate = await runCli(["migrate", ...s.configArgs, "--json", "--accept-all-warnings"]);
    assert.equal(migrate.code, 10, describeRun(migrate));
    assert.doesNotMatch(migrate.stderr, /internal error|could not create unique index/);
    assert.match(migrate.stderr, /DUPLICATE_ROWS/);
    const written = await cluster.sql<{ n: number }>(
      s.masDb,
      "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM compat_sessions) + (SELECT count(*) FROM compat_access_tokens) AS n",
    );
    assert.equal(Number(written[0]?.n), 0, "nothing written");
  });

  it("two Synapse providers mapped to one MAS provider with the same subject: an error only with that mapping", async () => {
    const s = await prepareScenario(cluster, "odd_shared_subject", { synapseOverrides: GUESTS_OFF });
    // user0021 gets a GitHub id equal to user0007's Keycloak subject: harmless while they go to different MAS providers.
    await cluster.sql(
      s.synapseDb,
      "INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ('oidc-github', 'd8b98c73-2b23-41c6-9638-a32228222985', '@user0021:example.com')",
    );
    const duplicateRows = (result: CliResult): Finding | undefined =>
      (JSON.parse(result.stdout) as { findings: Finding[] }).findings.find((f) => f.code === "DUPLICATE_ROWS");
    const apart = await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]);
    assert.equal(apart.code, 0, describeRun(apart));
    assert.equal(duplicateRows(apart), undefined);

    const oneProvider = ["--upstream-provider-mapping", "oidc-github:01JSHPZHAXC50QBKH67MH33TNF"];
    const check = await runCli(["check", ...s.configArgs, ...oneProvider, "--json", "--accept-all-warnings"]);
    assert.equal(check.code, 10, describeRun(check));
    const found = duplicateRows(check);
    assert.equal(found?.count, 2, JSON.stringify(found));
    assert.match(found?.message ?? "", /user_external_ids\.external_id of oidc-github and oidc-keycloak \(one MAS provider\): 2/);
    assert.match(found?.message ?? "", /map them to different MAS providers/);
    assert.doesNotMatch(found?.message ?? "", /constraints must have been dropped/);
    assert.deepEqual(found?.examples, ["@user0007:example.com", "@user0021:example.com"]);

    const migrate = await runCli(["migrate", ...s.configArgs, ...oneProvider, "--json", "--accept-all-warnings"]);
    assert.equal(migrate.code, 10, describeRun(migrate));
    assert.doesNotMatch(migrate.stderr, /internal error|could not create unique index/);
    const users = await cluster.sql<{ n: string }>(s.masDb, "SELECT count(*) AS n FROM users");
    assert.equal(Number(users[0]?.n), 0, "nothing written");
  });

  it("SQLite source: duplicate tokens in a table rebuilt without its constraints are an error too", async () => {
    const db = copySqliteFixture(synapseSqliteDb, scratchDir("syn2mas-odd-sqlite-dup-"));
    await writeSqlite(
      db,
      `CREATE TABLE plain_tokens AS SELECT * FROM access_tokens;
       DROP TABLE access_tokens;
       ALTER TABLE plain_tokens RENAME TO access_tokens;
       INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used)
         SELECT id, '@user0013:example.com', NULL, 'syt_duplicate_id', NULL, NULL, 1795406000001, NULL, 0
           FROM access_tokens WHERE user_id = '@user0015:example.com' ORDER BY id LIMIT 1;`,
    );
    const s = await prepareSqliteScenario(cluster, "odd_sqlite_dup", db, { synapseOverrides: GUESTS_OFF });
    const check = await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]);
    assert.equal(check.code, 10, describeRun(check));
    const found = (JSON.parse(check.stdout) as { findings: Finding[] }).findings.find((f) => f.code === "DUPLICATE_ROWS");
    assert.equal(found?.count, 2);
    assert.match(found?.message ?? "", /\(rows per key: access_tokens\.id: 2\)/);
    assert.deepEqual(found?.examples, ["@user0013:example.com", "@user0015:example.com"]);
    const migrate = await runCli(["migrate", ...s.configArgs, "--json", "--accept-all-warnings"]);
    assert.equal(migrate.code, 10, describeRun(migrate));
    const users = await cluster.sql<{ n: string }>(s.masDb, "SELECT count(*) AS n FROM users");
    assert.equal(Number(users[0]?.n), 0, "nothing written");
  });

  it("SQLite source: the same findings and treatment", async () => {
    const db = copySqliteFixture(synapseSqliteDb, scratchDir("syn2mas-odd-sqlite-"));
    await writeSqlite(db, (ODD_TIMES_SQL + ODD_HASHES_SQL).replace(/, false\)/g, ", 0)"));
    const s = await prepareSqliteScenario(cluster, "odd_sqlite", db, { synapseOverrides: GUESTS_OFF });
    const check = await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]);
    assert.equal(check.code, 0, describeRun(check));
    const checked = JSON.parse(check.stdout) as { findings: Finding[]; wouldSkip: Skipped };
    const migrate = await runCli(["migrate", ...s.configArgs, "--json", "--accept-all-warnings"]);
    assert.equal(migrate.code, 0, describeRun(migrate));
    assert.doesNotMatch(migrate.stderr, /internal error/);
    assert.deepEqual((JSON.parse(migrate.stdout) as { report: Report }).report.skipped, checked.wouldSkip);
    const byCode = new Map(checked.findings.map((f) => [f.code, f]));
    assert.equal(byCode.get("OUT_OF_RANGE_TIMESTAMPS")?.count, 10);
    assert.equal(byCode.get("UNUSABLE_PASSWORD_HASHES")?.count, 3);
    const millis = await cluster.sql<Row>(s.masDb, "SELECT created_at FROM users WHERE username = 'millis'");
    assert.deepEqual(
      millis.map((u) => ms(u.created_at)),
      [1_700_000_000_000],
    );
  });
});
