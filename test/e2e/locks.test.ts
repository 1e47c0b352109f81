/**
 * Runs side by side (issue 10, item 6): a `check` never holds the migration lock, so a `migrate`
 * started during it goes ahead; a second `migrate` is told MIGRATION_RUNNING, not SYNAPSE_RUNNING;
 * the tool's connections carry names that say which command and side they serve; and MAS settings
 * pointing at Synapse's database are reported as that, first.
 *
 * To keep a run busy at a known point, a test session locks MAS's `users` table: each run stops at
 * its emptiness count (after the migration lock was taken, or looked for) until the test lets go.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { MIGRATION_LOCK_KEY } from "../../src/target/probe.ts";
import type { FindingJson } from "../../src/cli/render.ts";
import { describeRun, waitFor } from "../harness/background.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { clientSessions, noClientSessions } from "../harness/sessions.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { writeMasConfig } from "../harness/temp-config.ts";

/** The warnings the clean fixture pair always has (accepted so that only the case under test counts). */
const BASELINE_WARNINGS = ["--accept-warning", "GUEST_USERS", "--accept-warning", "NON_EMAIL_THREEPIDS"];
/** Users the fixture migrates (50 Synapse users minus 3 application-service users). */
const FIXTURE_MAS_USERS = 47;

function findings(result: CliResult): FindingJson[] {
  return (JSON.parse(result.stdout) as { findings: FindingJson[] }).findings;
}

describe("runs side by side", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => cluster?.stop());

  /** The application_name and mode of each session holding the migration lock on `db`. */
  async function migrationLockHolders(db: string): Promise<string[]> {
    const rows = await cluster.sql<{ holder: string }>(
      db,
      `SELECT a.application_name || ' ' || l.mode AS holder
         FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.classid::bigint = $1::bigint AND l.objid::bigint = $2::bigint`,
      [(MIGRATION_LOCK_KEY >> 32n).toString(), (MIGRATION_LOCK_KEY & 0xffffffffn).toString()],
    );
    return rows.map((r) => r.holder).sort();
  }

  /** Waits until nobody is connected to the scenario's databases (a real run refuses other Synapse sessions). */
  async function settle(s: Scenario): Promise<void> {
    await waitFor("the scenario's databases to be idle", () => noClientSessions(cluster, s.synapseDb, s.masDb));
  }

  /**
   * Locks MAS's `users` table in a session of the test's own until `release` is called: every run
   * then waits at its emptiness count, after the migration lock.
   */
  async function holdMasUsers(s: Scenario): Promise<{ release: () => Promise<void>; waiting: () => Promise<string[]> }> {
    const holder = new pg.Client({ connectionString: cluster.uri(s.masDb), application_name: "test-holder" });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        await holder.query("ROLLBACK");
        await holder.end();
      },
      waiting: () => clientSessions(cluster, s.masDb, "wait_event_type = 'Lock'"),
    };
  }

  it("a check does not hold the migration lock: a migrate started while it runs goes ahead", { timeout: 90_000 }, async () => {
    const s = await prepareScenario(cluster, "locks_check", { synapseOverrides: GUESTS_OFF });
    await settle(s);
    const users = await holdMasUsers(s);
    try {
      const check = runCli(["check", ...s.configArgs, "--json", ...BASELINE_WARNINGS]);
      await waitFor("the check to wait at MAS's users", async () => (await users.waiting()).length === 1);
      assert.deepEqual(await migrationLockHolders(s.masDb), [], "the check holds the migration lock");
      assert.deepEqual(await users.waiting(), ["syn2mas check (MAS)"]);
      assert.ok(
        (await clientSessions(cluster, s.synapseDb)).includes("syn2mas check (Synapse)"),
        "the check's Synapse snapshot is open",
      );

      const migrate = runCli(["migrate", ...s.configArgs, "--json"]);
      await waitFor("the migrate to wait at MAS's users too", async () => (await users.waiting()).length === 2);
      assert.deepEqual(await migrationLockHolders(s.masDb), ["syn2mas migrate (MAS) ExclusiveLock"]);
      await users.release();

      const checked = await check;
      assert.equal(checked.code, 0, describeRun(checked));
      const migrated = await migrate;
      assert.equal(migrated.code, 0, describeRun(migrated));
      assert.deepEqual(
        findings(migrated).filter((f) => f.severity === "error"),
        [],
      );
    } finally {
      await users.release();
    }
    const rows = await cluster.sql<{ n: number }>(s.masDb, "SELECT count(*)::int AS n FROM users");
    assert.equal(rows[0]?.n, FIXTURE_MAS_USERS);
  });

  it("a check during a migration says MIGRATION_RUNNING, and the migration is not disturbed", { timeout: 90_000 }, async () => {
    const s = await prepareScenario(cluster, "locks_check_during", { synapseOverrides: GUESTS_OFF });
    await settle(s);
    const users = await holdMasUsers(s);
    try {
      const migrate = runCli(["migrate", ...s.configArgs]);
      await waitFor("the migrate to wait at MAS's users", async () => (await users.waiting()).length === 1);
      const checked = await runCli(["check", ...s.configArgs, "--json", ...BASELINE_WARNINGS]);
      assert.equal(checked.code, 10, describeRun(checked));
      assert.deepEqual(
        findings(checked)
          .filter((f) => f.severity === "error")
          .map((f) => f.code),
        ["MIGRATION_RUNNING"],
      );
      await users.release();
      const migrated = await migrate;
      assert.equal(migrated.code, 0, describeRun(migrated));
    } finally {
      await users.release();
    }
  });

  it("two migrates at once: the second says MIGRATION_RUNNING once, not SYNAPSE_RUNNING", { timeout: 90_000 }, async () => {
    const s = await prepareScenario(cluster, "locks_two", { synapseOverrides: GUESTS_OFF });
    await settle(s);
    const users = await holdMasUsers(s);
    try {
      const first = runCli(["migrate", ...s.configArgs]);
      await waitFor("the first migrate to wait at MAS's users", async () => (await users.waiting()).length === 1);
      const firstOnSynapse = await clientSessions(cluster, s.synapseDb);
      assert.ok(
        firstOnSynapse.length > 0 && firstOnSynapse.every((n) => n === "syn2mas migrate (Synapse)"),
        firstOnSynapse.join(", "),
      );

      const second = await runCli(["migrate", ...s.configArgs, "--json"]);
      assert.equal(second.code, 10, describeRun(second));
      const codes = findings(second).map((f) => f.code);
      assert.deepEqual(
        codes.filter((c) => c === "MIGRATION_RUNNING" || c === "SYNAPSE_RUNNING"),
        ["MIGRATION_RUNNING"],
      );
      assert.doesNotMatch(second.stdout, /syn2mas migrate \(MAS\)|SYNAPSE_RUNNING/);

      await users.release();
      const firstResult = await first;
      assert.equal(firstResult.code, 0, describeRun(firstResult));
    } finally {
      await users.release();
    }
    const rows = await cluster.sql<{ n: number }>(s.masDb, "SELECT count(*)::int AS n FROM users");
    assert.equal(rows[0]?.n, FIXTURE_MAS_USERS, "migrated once");
  });

  it(
    "a migrate into another MAS while one reads the same Synapse: MIGRATION_RUNNING naming it, not SYNAPSE_RUNNING",
    { timeout: 90_000 },
    async () => {
      const s = await prepareScenario(cluster, "locks_other_mas", { synapseOverrides: GUESTS_OFF });
      const otherMas = `${s.masDb}_other`;
      await cluster.cloneDatabase(s.masDb, otherMas);
      const otherConfig = await writeMasConfig(s.dir, { uri: cluster.uri(otherMas), fileName: "other-mas-config.yaml" });
      await settle(s);
      const users = await holdMasUsers(s);
      try {
        const first = runCli(["migrate", ...s.configArgs]);
        await waitFor("the first migrate to wait at MAS's users", async () => (await users.waiting()).length === 1);
        const firstOnSynapse = (await clientSessions(cluster, s.synapseDb)).length;

        const second = await runCli(["migrate", "--config", otherConfig, "--synapse-config", s.synapseConfig, "--json"]);
        assert.equal(second.code, 10, describeRun(second));
        const running = findings(second).filter((f) => f.code === "MIGRATION_RUNNING" || f.code === "SYNAPSE_RUNNING");
        assert.deepEqual(
          running.map((f) => [f.code, f.count]),
          [["MIGRATION_RUNNING", firstOnSynapse]],
        );
        assert.match(running[0]?.examples[0] as string, /^syn2mas migrate \(Synapse\) \(postgres, pid \d+\)$/);
        const otherUsers = await cluster.sql<{ n: number }>(otherMas, "SELECT count(*)::int AS n FROM users");
        assert.equal(otherUsers[0]?.n, 0, "the refused run wrote nothing");

        await users.release();
        const firstResult = await first;
        assert.equal(firstResult.code, 0, describeRun(firstResult));
      } finally {
        await users.release();
      }
    },
  );

  it("MAS's database URI pointing at Synapse's database: that is the first and only database finding", async () => {
    const s = await prepareScenario(cluster, "locks_mas_is_synapse", { synapseOverrides: GUESTS_OFF });
    await writeMasConfig(s.dir, { uri: cluster.uri(s.synapseDb) });
    const before = await cluster.dump(s.synapseDb);
    await settle(s);
    for (const args of [
      ["migrate", "--json"],
      ["check", "--json", ...BASELINE_WARNINGS],
    ]) {
      const result = await runCli([...args, ...s.configArgs]);
      assert.equal(result.code, 10, describeRun(result));
      const found = findings(result);
      assert.deepEqual(
        found.map((f) => f.code),
        ["MAS_SCHEMA_MISSING"],
        `${args[0]}: ${result.stdout}`,
      );
      assert.match(found[0]?.message as string, /Synapse's database, not MAS's/);
      assert.match(found[0]?.message as string, /database\.uri/);
      assert.doesNotMatch(result.stdout + result.stderr, /SYNAPSE_RUNNING|syn2mas migrate \(MAS\)/);
    }
    assert.equal(await cluster.dump(s.synapseDb), before, "Synapse's database was not written");
  });
});
