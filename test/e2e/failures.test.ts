/**
 * Failures mid-run tell the truth (migration.md "The run"): a MAS or Synapse connection terminated at
 * the start of each phase, the server stopped, a MAS table locked by another session. Each ends with
 * exit 1 and one line naming the database, what happened and that nothing was written; MAS is unchanged.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, type Scenario } from "../harness/scenario.ts";
import { describeRun, runningChildren, startCli, waitFor } from "../harness/background.ts";

/** Extra Synapse users, each with an email, an external id, a device with a token, a deviceless token and an unpaired refresh token. */
const BULK_USERS = 30_000;
const EXIT_TOOL_FAILURE = 1;
const PHASES = ["users", "threepids", "external_ids", "devices", "deviceless_tokens", "unpaired_refresh_tokens"] as const;
/** A table each phase's Synapse read names, to tell its COPY from the previous one's. */
const PHASE_TABLE: Record<(typeof PHASES)[number], string> = {
  users: "FROM users",
  threepids: "FROM user_threepids",
  external_ids: "FROM user_external_ids",
  devices: "FROM devices",
  deviceless_tokens: "FROM access_tokens",
  unpaired_refresh_tokens: "FROM refresh_tokens",
};
const BULK_TEMPLATE = "tpl_failures_synapse";

/** The one error line a failure must end with, and nothing that looks like a bug or a stack. */
function assertOneErrorLine(stderr: string, database: RegExp): string {
  const errors = stderr.split("\n").filter((line) => /error/i.test(line));
  assert.equal(errors.length, 1, `expected exactly one error line:\n${stderr}`);
  const line = errors[0] as string;
  assert.match(line, /^syn2mas: error: /);
  assert.match(line, database);
  assert.match(line, /\(fix: .+\)$/);
  assert.doesNotMatch(stderr, /internal error|This is a bug|\n\s+at |Unhandled|EBADF/);
  return line;
}

describe("failures mid-run", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
    await prepareScenario(cluster, "failures_templates"); // creates the fixture templates
    await cluster.cloneDatabase("tpl_synapse", BULK_TEMPLATE);
    await inflate(cluster, BULK_TEMPLATE);
  });

  after(async () => {
    for (const child of runningChildren) child.kill("SIGKILL");
    await cluster?.stop();
  });

  /** A scenario whose Synapse database is the fixture plus the bulk users, idle and ready to migrate. */
  async function bulkScenario(name: string): Promise<Scenario> {
    const scenario = await prepareScenario(cluster, name, { synapseOverrides: GUESTS_OFF });
    await cluster.dropDatabase(scenario.synapseDb);
    await cluster.cloneDatabase(BULK_TEMPLATE, scenario.synapseDb);
    await waitFor("no session left", async () => (await sessions(scenario.masDb)) === 0 && (await sessions(scenario.synapseDb)) === 0);
    return scenario;
  }

  async function sessions(db: string): Promise<number> {
    const rows = await cluster.sql<{ n: number }>(
      "postgres",
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
      [db],
    );
    return rows[0]?.n ?? -1;
  }

  /** Terminates the tool's backends on `db` matching `where` (SQL over pg_stat_activity); returns how many. */
  async function terminate(db: string, where = "true"): Promise<number> {
    const rows = await cluster.sql<{ pid: number }>(
      "postgres",
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'syn2mas' AND (${where})`,
      [db],
    );
    for (const { pid } of rows) await cluster.sql("postgres", "SELECT pg_terminate_backend($1)", [pid]);
    return rows.length;
  }

  for (const phase of PHASES) {
    it(`MAS connection terminated at the start of ${phase}: exit 1, one line naming MAS, MAS unchanged`, { timeout: 120_000 }, async (t) => {
      const scenario = await bulkScenario(`fail_mas_${phase}`);
      const before = await cluster.dump(scenario.masDb);
      const run = startCli(["migrate", ...scenario.configArgs]);
      await waitFor(`${phase} to start`, () => run.stderr().includes(`${phase}: started`) || run.child.exitCode !== null);
      assert.doesNotMatch(run.stderr(), /committed/i);
      assert.equal(await terminate(scenario.masDb), 1, `no MAS connection to terminate:\n${run.stderr()}`);
      const result = await run.done;
      assert.equal(result.code, EXIT_TOOL_FAILURE, describeRun(result));
      const line = assertOneErrorLine(result.stderr, /\bMAS\b/);
      t.diagnostic(line);
      assert.match(line, /nothing was written/);
      assert.equal(await cluster.dump(scenario.masDb), before, "MAS changed");
    });

    it(`Synapse connection terminated at the start of ${phase}: exit 1, one line naming Synapse, MAS unchanged`, { timeout: 120_000 }, async (t) => {
      const scenario = await bulkScenario(`fail_syn_${phase}`);
      const before = await cluster.dump(scenario.masDb);
      const run = startCli(["migrate", ...scenario.configArgs]);
      const reading = `state = 'active' AND query LIKE 'COPY (%' AND query LIKE '%${PHASE_TABLE[phase]}%'`;
      let terminated = 0;
      await waitFor(`${phase}'s Synapse read`, async () => {
        if (run.child.exitCode !== null) return true;
        if (!run.stderr().includes(`${phase}: started`)) return false;
        terminated = await terminate(scenario.synapseDb, reading);
        return terminated > 0;
      });
      assert.equal(terminated, 1, `no Synapse read to terminate:\n${run.stderr()}`);
      const result = await run.done;
      assert.equal(result.code, EXIT_TOOL_FAILURE, describeRun(result));
      const line = assertOneErrorLine(result.stderr, /\bSynapse\b/);
      t.diagnostic(line);
      assert.match(line, /nothing was written/);
      assert.equal(await cluster.dump(scenario.masDb), before, "MAS changed");
    });
  }
});

/** Adds BULK_USERS users with an email, an external id, a device with a token, a deviceless token and an unpaired refresh token each. */
async function inflate(cluster: Cluster, db: string): Promise<void> {
  const statements = [
    `INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, suspended)
     SELECT '@bulk' || n || ':example.com', '$2b$12$' || substr(md5(n::text) || md5('salt' || n::text), 1, 53),
            1700000000 + n, 0, 0, 0, false, false
       FROM generate_series(1, $1::int) AS n`,
    `INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at)
     SELECT '@bulk' || n || ':example.com', 'email', 'bulk' || n || '@mail.example.org', 1700000000000, 1700000000000
       FROM generate_series(1, $1::int) AS n`,
    `INSERT INTO user_external_ids (auth_provider, external_id, user_id)
     SELECT 'oidc-keycloak', 'bulk-' || n, '@bulk' || n || ':example.com' FROM generate_series(1, $1::int) AS n`,
    `INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden)
     SELECT '@bulk' || n || ':example.com', 'BULK' || n, 'Bulk client', 1700000000000 + n, '10.0.0.1', 'bulk/1.0', false
       FROM generate_series(1, $1::int) AS n`,
    `INSERT INTO access_tokens (id, user_id, device_id, token, last_validated)
     SELECT 1000000000 + 2 * n + k, '@bulk' || n || ':example.com', CASE WHEN k = 0 THEN 'BULK' || n END,
            'syt_bulk_' || k || '_' || n, 1700000000000
       FROM generate_series(1, $1::int) AS n, generate_series(0, 1) AS k`,
    `INSERT INTO refresh_tokens (id, user_id, device_id, token)
     SELECT 1000000000 + n, '@bulk' || n || ':example.com', 'BULK' || n, 'syr_bulk_' || n
       FROM generate_series(1, $1::int) AS n`,
  ];
  for (const sql of statements) await cluster.sql(db, sql, [BULK_USERS]);
  await cluster.sql(db, "ANALYZE");
}
