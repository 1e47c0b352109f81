/**
 * The safety promises of migration.md "The run": Synapse is never written, a dry run leaves MAS as it
 * was, `kill -9` mid-write leaves MAS untouched and a rerun just works, two runs at once are refused
 * by the lock, and a second migration into a migrated MAS is refused without touching it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { noClientSessions } from "../harness/sessions.ts";
import { describeRun, runningChildren, startCli, waitFor } from "../harness/background.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";

/** Users the fixture migrates (50 Synapse users minus 3 application-service users). */
const FIXTURE_MAS_USERS = 47;
/** Extra Synapse users (each with one device) that make a run last a few seconds. */
const BULK_USERS = 100_000;
/** compat_sessions the fixture migrates (one per migrated device). */
const FIXTURE_COMPAT_SESSIONS = 73;
const EXIT_OK = 0;
const EXIT_BLOCKED = 10;

describe("migration safety", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });

  after(async () => {
    for (const child of runningChildren) child.kill("SIGKILL");
    await cluster?.stop();
  });

  /**
   * Waits until nobody is connected to the scenario's databases: the harness's own sessions (sql, dump)
   * must be gone before a real run, which refuses to start while anything else uses the Synapse database.
   */
  async function settle(scenario: Scenario): Promise<void> {
    await waitFor(`no session left on ${scenario.synapseDb} and ${scenario.masDb}`, async () => {
      return noClientSessions(cluster, scenario.synapseDb, scenario.masDb);
    });
  }

  async function masUsers(scenario: Scenario): Promise<number> {
    const rows = await cluster.sql<{ n: number }>(scenario.masDb, "SELECT count(*)::int AS n FROM users");
    return rows[0]?.n ?? -1;
  }

  /** Runs the CLI to completion once the databases are idle. */
  async function migrateRun(scenario: Scenario, ...flags: string[]): Promise<CliResult> {
    await settle(scenario);
    return runCli(["migrate", ...scenario.configArgs, ...flags]);
  }

  /** Adds BULK_USERS users `@bulk{n}:example.com` with a bcrypt-looking hash and one device each. */
  async function inflateSynapse(scenario: Scenario): Promise<void> {
    await cluster.sql(
      scenario.synapseDb,
      `INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, suspended)
       SELECT '@bulk' || n || ':example.com',
              '$2b$12$' || substr(md5(n::text) || md5('salt' || n::text), 1, 53),
              1700000000 + n, 0, 0, 0, false, false
         FROM generate_series(1, $1::int) AS n`,
      [BULK_USERS],
    );
    await cluster.sql(
      scenario.synapseDb,
      `INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden)
       SELECT '@bulk' || n || ':example.com', 'BULK' || n, 'Bulk client', 1700000000000 + n, '10.0.0.1', 'bulk/1.0', false
         FROM generate_series(1, $1::int) AS n`,
      [BULK_USERS],
    );
    await cluster.sql(scenario.synapseDb, "ANALYZE");
  }

  it("never changes the Synapse database: dry run, real run, refused second run", { timeout: 60_000 }, async () => {
    const scenario = await prepareScenario(cluster, "safety_synapse_untouched", { synapseOverrides: GUESTS_OFF });
    const original = await cluster.dump(scenario.synapseDb);

    const dry = await migrateRun(scenario, "--dry-run");
    assert.equal(dry.code, EXIT_OK, describeRun(dry));
    assert.equal(await cluster.dump(scenario.synapseDb), original, "the dry run changed the Synapse database");

    const real = await migrateRun(scenario);
    assert.equal(real.code, EXIT_OK, describeRun(real));
    assert.equal(await cluster.dump(scenario.synapseDb), original, "the real migration changed the Synapse database");

    const refused = await migrateRun(scenario);
    assert.equal(refused.code, EXIT_BLOCKED, describeRun(refused));
    assert.match(refused.stderr, /ALREADY_MIGRATED/);
    assert.equal(await cluster.dump(scenario.synapseDb), original, "the refused second migration changed the Synapse database");
  });

  it(
    "dry run leaves MAS exactly as it was, reports 47 users, and a real run still works after it",
    { timeout: 60_000 },
    async () => {
      const scenario = await prepareScenario(cluster, "safety_dry_run", { synapseOverrides: GUESTS_OFF });
      const before = await cluster.dump(scenario.masDb);

      const dry = await migrateRun(scenario, "--dry-run", "--json");
      assert.equal(dry.code, EXIT_OK, describeRun(dry));
      const output = JSON.parse(dry.stdout) as {
        dryRun: boolean;
        status: string;
        report: { dryRun: boolean; written: Record<string, number> };
      };
      assert.equal(output.dryRun, true);
      assert.equal(output.status, "done");
      assert.equal(output.report.dryRun, true);
      assert.equal(output.report.written.users, FIXTURE_MAS_USERS);
      assert.equal(await cluster.dump(scenario.masDb), before, "the dry run changed the MAS database");
      assert.equal(await masUsers(scenario), 0);

      const real = await migrateRun(scenario);
      assert.equal(real.code, EXIT_OK, describeRun(real));
      assert.equal(await masUsers(scenario), FIXTURE_MAS_USERS);
    },
  );

  it("kill -9 in the middle of writing leaves MAS untouched, and a rerun migrates everything", { timeout: 90_000 }, async () => {
    const scenario = await prepareScenario(cluster, "safety_sigkill", { synapseOverrides: GUESTS_OFF });
    await inflateSynapse(scenario);
    const before = await cluster.dump(scenario.masDb);
    await settle(scenario);

    // The child's own temp directory: its spool files must not outlive it.
    const childTmp = await mkdtemp(join(tmpdir(), "syn2mas-safety-tmp-"));
    try {
      const run = startCli(["migrate", ...scenario.configArgs], { TMPDIR: childTmp });
      // "users: N rows in S s" is printed once users and user_passwords are written (inside the open
      // transaction); the devices phase, as large again, is still to come.
      await waitFor(
        "the users phase to finish",
        () => /^\s*users: \d+ rows in/m.test(run.stderr()) || run.child.exitCode !== null,
      );
      assert.equal(
        run.child.exitCode,
        null,
        `the run ended before it could be killed mid-write; make BULK_USERS larger.\n${run.stderr()}`,
      );
      assert.doesNotMatch(run.stderr(), /Migration committed/, "the run committed before the kill; make BULK_USERS larger");
      const openTransactions = await cluster.sql<{ n: number }>(
        "postgres",
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND xact_start IS NOT NULL",
        [scenario.masDb],
      );
      run.child.kill("SIGKILL");
      assert.equal(openTransactions[0]?.n, 1, "the run had no open MAS transaction when it was killed");
      const killed = await run.done;
      assert.equal(killed.signal, "SIGKILL", describeRun(killed));

      await waitFor(`the killed run's sessions to end`, () => noClientSessions(cluster, scenario.masDb));
      const leftUsers = await masUsers(scenario);
      assert.equal(
        leftUsers,
        0,
        `MAS holds ${leftUsers} users after the kill: the kill landed after COMMIT (a timing race, not a pass); make BULK_USERS larger`,
      );
      assert.equal(await cluster.dump(scenario.masDb), before, "the killed run left something in the MAS database");

      const leftFiles = await regularFiles(childTmp);
      assert.deepEqual(leftFiles, [], "the killed run left spool files (tokens, hashes) on disk");
      assert.deepEqual(await readdir(childTmp), [], "the killed run left something in its temporary directory");
    } finally {
      await rm(childTmp, { recursive: true, force: true });
    }

    const rerun = await migrateRun(scenario);
    assert.equal(rerun.code, EXIT_OK, describeRun(rerun));
    assert.equal(await masUsers(scenario), FIXTURE_MAS_USERS + BULK_USERS);
  });

  it("two runs at once: the second is refused with MIGRATION_RUNNING and MAS is migrated once", { timeout: 90_000 }, async () => {
    const scenario = await prepareScenario(cluster, "safety_concurrent", { synapseOverrides: GUESTS_OFF });
    await inflateSynapse(scenario);
    await settle(scenario);

    // Both runs read the same Synapse database, so each sees the other's session there.
    const first = startCli(["migrate", ...scenario.configArgs, "--ignore-synapse-running"]);
    // Once its COPY is running the first run holds the migration lock and has not committed.
    await waitFor("the first run to start writing", async () => {
      if (first.child.exitCode !== null) return true;
      const rows = await cluster.sql<{ n: number }>(
        "postgres",
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'COPY%'",
        [scenario.masDb],
      );
      return (rows[0]?.n ?? 0) > 0;
    });
    assert.equal(first.child.exitCode, null, `the first run ended before it was seen writing:\n${first.stderr()}`);

    const second = await runCli(["migrate", ...scenario.configArgs, "--ignore-synapse-running"]);
    const stillRunning = first.child.exitCode === null;
    const firstResult = await first.done;

    assert.equal(firstResult.code, EXIT_OK, describeRun(firstResult));
    assert.ok(stillRunning, "the first run finished before the second one checked; make BULK_USERS larger");
    assert.equal(second.code, EXIT_BLOCKED, describeRun(second));
    assert.match(second.stderr, /MIGRATION_RUNNING/);
    assert.doesNotMatch(second.stderr, /MAS_NOT_EMPTY/, "the second run started after the first committed");
    assert.equal(await masUsers(scenario), FIXTURE_MAS_USERS + BULK_USERS);
    const sessions = await cluster.sql<{ n: number }>(scenario.masDb, "SELECT count(*)::int AS n FROM compat_sessions");
    assert.equal(sessions[0]?.n, FIXTURE_COMPAT_SESSIONS + BULK_USERS, "compat_sessions written once");
  });

  it("refuses a second migration into a migrated MAS and leaves it unchanged", { timeout: 60_000 }, async () => {
    const scenario = await prepareScenario(cluster, "safety_second_run", { synapseOverrides: GUESTS_OFF });
    const first = await migrateRun(scenario);
    assert.equal(first.code, EXIT_OK, describeRun(first));
    const migrated = await cluster.dump(scenario.masDb);

    const second = await migrateRun(scenario);
    assert.equal(second.code, EXIT_BLOCKED, describeRun(second));
    assert.match(second.stderr, /ALREADY_MIGRATED/);
    assert.equal(await cluster.dump(scenario.masDb), migrated, "the refused run changed the MAS database");
    assert.equal(await masUsers(scenario), FIXTURE_MAS_USERS);
  });
});

/** Paths of the regular files under `dir` (recursively); empty directories do not count. */
async function regularFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? dir, e.name));
}
