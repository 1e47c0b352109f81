/**
 * The MAS comparator (test/harness/mas-compare.ts) on two real migrations of the same fixture: no
 * difference between them, then one concrete change on one side at a time (a lock, a deleted token,
 * a changed email, a new password hash, a token moved to another session) reported exactly, naming
 * the row by user and device and never by a token or hash.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { describeRun } from "../harness/background.ts";
import { expiriesSql } from "../harness/edge-rows.ts";
import { compareMas, compareMasDatabases, type MasDifference } from "../harness/mas-compare.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type Scenario } from "../harness/scenario.ts";

/** The fixture's Synapse as it runs: live refresh tokens, and every device seen (no time of the run in the rows). */
function runningSynapseSql(now: number): string {
  return `${expiriesSql(now)}
UPDATE devices SET last_seen = 1795406900000 + length(device_id) WHERE last_seen IS NULL;`;
}

describe("comparing two MAS databases, ids aside", { timeout: 600_000 }, () => {
  let cluster: Cluster;
  let one: Scenario;
  let two: Scenario;
  let a: pg.Client;
  let b: pg.Client;
  let secrets: string[];

  before(async () => {
    cluster = await startCluster();
    const now = Date.now();
    one = await prepareScenario(cluster, "compare_one", { synapseOverrides: GUESTS_OFF });
    two = await prepareScenario(cluster, "compare_two", { synapseOverrides: GUESTS_OFF });
    for (const s of [one, two]) {
      await cluster.sql(s.synapseDb, runningSynapseSql(now));
      const migrate = await runCli(["migrate", ...s.configArgs, "--accept-all-warnings"]);
      assert.equal(migrate.code, 0, describeRun(migrate));
    }
    a = new pg.Client({ connectionString: cluster.uri(one.masDb) });
    b = new pg.Client({ connectionString: cluster.uri(two.masDb) });
    await a.connect();
    await b.connect();
    const rows = await cluster.sql<{ s: string }>(
      one.masDb,
      `SELECT hashed_password AS s FROM user_passwords UNION ALL SELECT access_token FROM compat_access_tokens
       UNION ALL SELECT refresh_token FROM compat_refresh_tokens`,
    );
    secrets = rows.map((r) => r.s);
  });
  after(async () => {
    await a?.end();
    await b?.end();
    await cluster?.stop();
  });

  /** The differences while `change` is applied to b, in a transaction rolled back afterwards. */
  async function differencesWith(change: string, cap?: number): Promise<MasDifference[]> {
    await b.query("BEGIN");
    try {
      await b.query(change);
      return await compareMasDatabases(a, b, cap === undefined ? {} : { cap });
    } finally {
      await b.query("ROLLBACK");
    }
  }

  function assertNoSecret(differences: MasDifference[]): void {
    const text = JSON.stringify(differences);
    for (const secret of secrets) assert.ok(!text.includes(secret), "no token or hash in the differences");
  }

  it("finds two migrations of the same Synapse equal, every table counted", async () => {
    const result = await compareMas(a, b);
    assert.deepEqual(result.differences, []);
    assert.equal(result.truncated, false);
    const rows = Object.fromEntries(result.tables.map((t) => [t.table, [t.rowsA, t.rowsB, t.equal]]));
    // 47 users (50 minus 3 application-service users); the refresh tokens are live (runningSynapseSql).
    assert.deepEqual(rows.users, [47, 47, 47]);
    assert.equal(result.tables.length, 8);
    for (const t of result.tables) {
      assert.equal(t.rowsA, t.rowsB, t.table);
      assert.equal(t.equal, t.rowsA, t.table);
      assert.ok(t.rowsA > 0, `${t.table} has rows`);
    }
  });

  it("reports a user locked on one side, with both values", async () => {
    const differences = await differencesWith(
      "UPDATE users SET locked_at = '2026-11-29T10:00:00.123456Z' WHERE username = 'user0001'",
    );
    assert.deepEqual(differences, [
      { table: "users", key: "user user0001", side: "different", detail: "locked_at: a NULL, b 2026-11-29T10:00:00.123456Z" },
    ]);
  });

  it("reports an access token deleted on one side by its user and device", async () => {
    const differences = await differencesWith(
      `DELETE FROM compat_access_tokens WHERE compat_session_id = (SELECT s.compat_session_id FROM compat_sessions s
         JOIN users u USING (user_id) WHERE u.username = 'user0006' AND s.device_id = 'SXJXYWYAEZ')`,
    );
    assert.deepEqual(differences, [
      {
        table: "compat_access_tokens",
        key: "access token of user0006 device SXJXYWYAEZ",
        side: "only in a",
        detail: "no row with this key in b",
      },
    ]);
    assertNoSecret(differences);
  });

  it("reports a changed email as one email only in a and another only in b", async () => {
    const differences = await differencesWith(
      `UPDATE user_emails SET email = 'user0012@elsewhere.example.org'
        WHERE user_id = (SELECT user_id FROM users WHERE username = 'user0012')`,
    );
    assert.deepEqual(
      differences.sort((x, y) => x.side.localeCompare(y.side)),
      [
        {
          table: "user_emails",
          key: "user0012 email user0012@mail.example.org",
          side: "only in a",
          detail: "no row with this key in b",
        },
        {
          table: "user_emails",
          key: "user0012 email user0012@elsewhere.example.org",
          side: "only in b",
          detail: "no row with this key in a",
        },
      ],
    );
  });

  it("reports a new password hash by its user only", async () => {
    const differences = await differencesWith(
      `UPDATE user_passwords SET hashed_password = '$2b$12$' || repeat('x', 53)
        WHERE user_id = (SELECT user_id FROM users WHERE username = 'user0001')`,
    );
    assert.deepEqual(differences.map((d) => [d.table, d.key, d.side]).sort(), [
      ["user_passwords", "password of user0001", "only in a"],
      ["user_passwords", "password of user0001", "only in b"],
    ]);
    assertNoSecret(differences);
    assert.ok(!JSON.stringify(differences).includes("xxxx"), "not the new hash either");
  });

  it("reports a token moved to another session as its session differing, without the session's key", async () => {
    const differences = await differencesWith(
      `UPDATE compat_access_tokens SET compat_session_id = (SELECT s.compat_session_id FROM compat_sessions s
         JOIN users u USING (user_id) WHERE u.username = 'user0007' AND s.device_id = 'GVCMYNODOX')
       WHERE compat_session_id = (SELECT s.compat_session_id FROM compat_sessions s
         JOIN users u USING (user_id) WHERE u.username = 'user0006' AND s.device_id = 'SXJXYWYAEZ')`,
    );
    assert.deepEqual(differences, [
      {
        table: "compat_access_tokens",
        key: "access token of user0006 device SXJXYWYAEZ",
        side: "different",
        detail: "compat_session_id differs",
      },
    ]);
    assertNoSecret(differences);
  });

  it("keeps at most the cap of differences and counts them all", async () => {
    await b.query("BEGIN");
    try {
      // Every active user (47 minus the 3 deactivated ones).
      await b.query("UPDATE users SET deactivated_at = '2026-11-29T10:00:00Z' WHERE deactivated_at IS NULL");
      const result = await compareMas(a, b, { cap: 10 });
      assert.equal(result.differences.length, 10);
      assert.equal(result.truncated, true);
      const users = result.tables.find((t) => t.table === "users");
      assert.deepEqual(users, { table: "users", rowsA: 47, rowsB: 47, equal: 3, onlyInA: 0, onlyInB: 0, different: 44 });
      for (const d of result.differences) assert.match(d.detail, /^deactivated_at: a NULL, b 2026-11-29T10:00:00\.000000Z$/);
    } finally {
      await b.query("ROLLBACK");
    }
  });
});
