/**
 * Ended sessions stay ended: on copies of both fixtures, with refresh-token expiries set relative to
 * the run's time (the fixtures' own expired a day after they were made), live pairs are migrated,
 * expired and hard-limited ones are not (counted as ended_session by check and migrate alike), and
 * sessions whose hard limit lies ahead are migrated with a warning.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { synapseSqliteDb } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { describeRun } from "../harness/background.ts";
import { GUESTS_OFF, prepareScenario, runCli, type Scenario } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { copySqliteFixture, prepareSqliteScenario, writeSqlite } from "../harness/sqlite.ts";

type Skipped = Record<string, Record<string, number>>;
type Row = Record<string, unknown>;

interface Finding {
  code: string;
  severity: string;
  count?: number;
  examples?: string[];
}

interface Report {
  written: Record<string, number>;
  skipped: Skipped;
  notes: Record<string, Record<string, number>>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Every refresh token live for a day from `now`, then: `expired` past its expiry, `limitPassed`
 * past its session's hard limit (its own expiry still ahead), `limitAhead` with a hard limit a week away.
 */
function expiriesSql(now: number, ids: { expired: number[]; limitPassed: number[]; limitAhead: number[] }): string {
  const list = (xs: number[]) => xs.join(", ");
  return `
UPDATE refresh_tokens SET expiry_ts = ${now + DAY}, ultimate_session_expiry_ts = NULL;
UPDATE refresh_tokens SET expiry_ts = ${now - HOUR} WHERE id IN (${list(ids.expired)});
UPDATE refresh_tokens SET ultimate_session_expiry_ts = ${now - HOUR} WHERE id IN (${list(ids.limitPassed)});
UPDATE refresh_tokens SET ultimate_session_expiry_ts = ${now + 7 * DAY} WHERE id IN (${list(ids.limitAhead)});
`;
}

/** Runs check and a real migrate (warnings accepted), and returns what both said. */
async function checkAndMigrate(
  s: Scenario,
): Promise<{ findings: Map<string, Finding>; wouldSkip: Skipped; report: Report; stderr: string }> {
  const check = await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]);
  assert.equal(check.code, 0, describeRun(check));
  const checked = JSON.parse(check.stdout) as { findings: Finding[]; wouldSkip: Skipped };
  const migrate = await runCli(["migrate", ...s.configArgs, "--json", "--accept-all-warnings"]);
  assert.equal(migrate.code, 0, describeRun(migrate));
  assert.doesNotMatch(migrate.stderr, /internal error/);
  const migrated = JSON.parse(migrate.stdout) as { findings: Finding[]; report: Report };
  // migrate's own findings count the same as check's.
  for (const code of ["ENDED_SESSIONS", "SESSION_LIMIT_NOT_ENFORCED"]) {
    assert.deepEqual(
      migrated.findings.find((f) => f.code === code),
      checked.findings.find((f) => f.code === code),
      code,
    );
  }
  return {
    findings: new Map(checked.findings.map((f) => [f.code, f])),
    wouldSkip: checked.wouldSkip,
    report: migrated.report,
    stderr: check.stderr,
  };
}

describe("ended sessions stay ended", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => cluster?.stop());

  describe("PostgreSQL source", () => {
    let s: Scenario;
    let result: Awaited<ReturnType<typeof checkAndMigrate>>;
    const mas = (sql: string) => cluster.sql<Row>(s.masDb, sql);

    before(async () => {
      s = await prepareScenario(cluster, "ended_pg", { synapseOverrides: GUESTS_OFF });
      const now = Date.now();
      // Deviceless pairs too: one of user0017's ended, one live with a limit ahead, and a guest's ended one.
      await cluster.sql(
        s.synapseDb,
        `INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id) VALUES
           (5001, '@user0017:example.com', 'X', 'syr_loose_ended', NULL),
           (5002, '@2:example.com', 'X', 'syr_guest_ended', NULL),
           (5003, '@user0017:example.com', 'X', 'syr_loose_limited', NULL);
         INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
           (5001, '@user0017:example.com', NULL, 'syt_loose_ended', NULL, NULL, 1795406000001, 5001, false),
           (5002, '@2:example.com', NULL, 'syt_guest_ended', NULL, NULL, 1795406000002, 5002, false),
           (5003, '@user0017:example.com', NULL, 'syt_loose_limited', NULL, NULL, 1795406000003, 5003, false);
         ${expiriesSql(now, { expired: [3, 5001, 5002], limitPassed: [7], limitAhead: [8, 9, 5003] })}`,
      );
      result = await checkAndMigrate(s);
    });

    it("check counts the ended pairs (info) and the sessions whose hard limit MAS cannot enforce (warning)", () => {
      const ended = result.findings.get("ENDED_SESSIONS");
      assert.equal(ended?.severity, "info");
      assert.equal(ended?.count, 4);
      assert.deepEqual(ended?.examples, [
        "@2:example.com",
        "@user0002:example.com",
        "@user0008:example.com",
        "@user0017:example.com",
      ]);
      const limited = result.findings.get("SESSION_LIMIT_NOT_ENFORCED");
      assert.equal(limited?.severity, "warning");
      assert.equal(limited?.count, 3);
      assert.deepEqual(limited?.examples, ["@user0009:example.com", "@user0010:example.com", "@user0017:example.com"]);
      assert.match(result.stderr, /SESSION_LIMIT_NOT_ENFORCED/);
    });

    it("skips the ended pairs, access and refresh token alike, as check said it would", () => {
      assert.deepEqual(result.report.skipped.refresh_tokens, { ended_session: 4 });
      assert.deepEqual(result.report.skipped.access_tokens, { appservice_user: 3, puppet_token: 2, ended_session: 4 });
      assert.deepEqual(result.wouldSkip, result.report.skipped);
      assert.deepEqual(result.report.notes.refresh_tokens, { session_limit_not_enforced: 3 });
      // 31 pairs in the fixture, 2 of them ended; 1 of the 3 added is live.
      assert.equal(result.report.written.compat_refresh_tokens, 31 - 2 + 1);
    });

    it("writes the live pairs and none of the ended ones", async () => {
      const pairs = await mas(
        `SELECT t.access_token, r.refresh_token FROM compat_access_tokens t
           LEFT JOIN compat_refresh_tokens r USING (compat_access_token_id)`,
      );
      const refreshOf = new Map(pairs.map((p) => [p.access_token as string, p.refresh_token]));
      const synapse = await cluster.sql<Row>(
        s.synapseDb,
        "SELECT r.id, r.token AS refresh, a.token AS access FROM refresh_tokens r JOIN access_tokens a ON a.refresh_token_id = r.id",
      );
      const byId = new Map(synapse.map((r) => [Number(r.id), r]));
      for (const id of [2, 8, 9, 5003]) {
        const pair = byId.get(id);
        assert.equal(refreshOf.get(pair?.access as string), pair?.refresh, `live pair ${id} migrated`);
      }
      for (const id of [3, 7, 5001, 5002]) {
        const pair = byId.get(id);
        assert.equal(refreshOf.has(pair?.access as string), false, `ended pair ${id}: no access token`);
        assert.equal([...refreshOf.values()].includes(pair?.refresh), false, `ended pair ${id}: no refresh token`);
      }
      const devices = await mas(
        "SELECT device_id FROM compat_sessions WHERE device_id IN ('ATZASRNOUY', 'KNEEOMJOTJ') ORDER BY 1",
      );
      assert.deepEqual(
        devices.map((d) => d.device_id),
        ["ATZASRNOUY", "KNEEOMJOTJ"],
        "their devices are still migrated, without those tokens",
      );
    });
  });

  it("SQLite source: the same rule, and check counts what migrate skips", async () => {
    const db = copySqliteFixture(synapseSqliteDb, scratchDir("syn2mas-ended-sqlite-"));
    await writeSqlite(db, expiriesSql(Date.now(), { expired: [3], limitPassed: [5], limitAhead: [6, 7] }));
    const s = await prepareSqliteScenario(cluster, "ended_sqlite", db, { synapseOverrides: GUESTS_OFF });
    const result = await checkAndMigrate(s);
    assert.deepEqual(result.report.skipped.refresh_tokens, { ended_session: 2 });
    assert.deepEqual(result.report.skipped.access_tokens, { appservice_user: 3, puppet_token: 2, ended_session: 2 });
    assert.deepEqual(result.wouldSkip, result.report.skipped);
    assert.equal(result.report.written.compat_refresh_tokens, 11 - 2);
    assert.deepEqual(result.report.notes.refresh_tokens, { session_limit_not_enforced: 2 });
    assert.deepEqual(result.findings.get("ENDED_SESSIONS")?.examples, ["@user0002:example.com", "@user0006:example.com"]);
    assert.deepEqual(result.findings.get("SESSION_LIMIT_NOT_ENFORCED")?.examples, [
      "@user0010:example.com",
      "@user0011:example.com",
    ]);
    const refresh = await cluster.sql<Row>(s.masDb, "SELECT refresh_token FROM compat_refresh_tokens");
    const ended = await cluster.sql<Row>(
      s.masDb,
      "SELECT 1 FROM compat_access_tokens WHERE access_token = 'syt_dXNlcjAwMDI_UmPVCOxdvlEIMzZlgzrD_0Wa22b'",
    );
    assert.equal(refresh.length, 9);
    assert.deepEqual(ended, [], "user0002's expired pair is not migrated");
  });
});
