/**
 * Failures mid-run tell the truth (migration.md "The run"): a MAS or Synapse connection terminated at
 * the start of each phase, the server stopped, a MAS table locked by another session, a missing MAS
 * database or password. Each ends with exit 1 and one line naming the database, what happened and
 * that nothing was written; MAS is unchanged. Interrupts (exit 130) say what MAS holds: rolled back
 * mid-load, committed when COMMIT was in flight (COMMITs are held with a synchronous standby that
 * never comes), and a COMMIT whose answer is lost is looked up in MAS.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { run } from "../harness/exec.ts";
import { masEmptySql, masProvidersSql, synapseSmallSql } from "../harness/fixtures.ts";
import { findPgTools, serverUser } from "../harness/pg-install.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { noClientSessions } from "../harness/sessions.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { writeMasConfig, writeSynapseConfig } from "../harness/temp-config.ts";
import { describeRun, runningChildren, startCli, waitFor, type Background } from "../harness/background.ts";

/** Extra Synapse users, each with an email, an external id, a device with a token, a deviceless token and an unpaired refresh token. */
const BULK_USERS = 30_000;
/** Unpaired refresh tokens: the last phase's read, long enough to be caught while in flight. */
const UNPAIRED_REFRESH_TOKENS = 300_000;
const EXIT_TOOL_FAILURE = 1;
const EXIT_INTERRUPTED = 130;
/** Users the fixture migrates (50 Synapse users minus 3 application-service users). */
const FIXTURE_MAS_USERS = 47;
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
    await waitFor("no session left", () => noClientSessions(cluster, scenario.masDb, scenario.synapseDb));
    return scenario;
  }

  /** Terminates the tool's backends on `db` matching `where` (SQL over pg_stat_activity); returns how many. */
  async function terminate(db: string, where = "true"): Promise<number> {
    const rows = await cluster.sql<{ pid: number }>(
      "postgres",
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'syn2mas%' AND (${where})`,
      [db],
    );
    for (const { pid } of rows) await cluster.sql("postgres", "SELECT pg_terminate_backend($1)", [pid]);
    return rows.length;
  }

  for (const phase of PHASES) {
    it(
      `MAS connection terminated at the start of ${phase}: exit 1, one line naming MAS, MAS unchanged`,
      { timeout: 120_000 },
      async (t) => {
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
      },
    );

    it(
      `Synapse connection terminated at the start of ${phase}: exit 1, one line naming Synapse, MAS unchanged`,
      { timeout: 300_000 },
      async (t) => {
        // The reading connection is the one whose last query was a COPY of Synapse's rows. Ended once
        // the phase has started, its next read fails, even when this phase's read was already done.
        // After the last phase's read nothing is read again (the run may rightly finish), so there it
        // must be caught while the read is in flight: its table is the largest (UNPAIRED_REFRESH_TOKENS),
        // and a run whose read ended before the test saw it is let finish and tried again on a fresh copy.
        const last = phase === PHASES[PHASES.length - 1];
        const reading = last
          ? `state = 'active' AND query LIKE 'COPY (%' AND query LIKE '%${PHASE_TABLE[phase]}%'`
          : "query LIKE 'COPY (%'";
        let caught: { scenario: Scenario; before: string; run: Background } | undefined;
        for (let attempt = 1; attempt <= 3 && caught === undefined; attempt++) {
          const scenario = await bulkScenario(`fail_syn_${phase}_${attempt}`);
          const before = await cluster.dump(scenario.masDb);
          const run = startCli(["migrate", ...scenario.configArgs]);
          let terminated = 0;
          await waitFor(`${phase}'s Synapse read`, async () => {
            if (run.child.exitCode !== null) return true;
            if (!run.stderr().includes(`${phase}: started`)) return false;
            // The last phase ended before its read was seen: this run cannot be caught.
            if (last && new RegExp(`^${phase}: \\d+ rows in`, "m").test(run.stderr())) return true;
            terminated = await terminate(scenario.synapseDb, reading);
            return terminated > 0;
          });
          if (terminated === 1) caught = { scenario, before, run };
          else await run.done;
        }
        assert.ok(caught, `no ${phase} read of Synapse caught in 3 runs`);
        const { scenario, before, run } = caught;
        const result = await run.done;
        assert.equal(result.code, EXIT_TOOL_FAILURE, describeRun(result));
        const line = assertOneErrorLine(result.stderr, /\bSynapse\b/);
        t.diagnostic(line);
        assert.match(line, /nothing was written/);
        assert.equal(await cluster.dump(scenario.masDb), before, "MAS changed");
      },
    );
  }

  it(
    "the database server stopped mid-run (fast shutdown): exit 1, one line naming both databases, MAS unchanged",
    { timeout: 180_000 },
    async (t) => {
      const server = await startCluster();
      try {
        await server.createDatabase("synapse", { fromSqlFile: synapseSmallSql });
        await inflate(server, "synapse");
        const scenario = await prepareScenario(cluster, "fail_server_stop", { synapseOverrides: GUESTS_OFF });
        await server.createDatabase("mas", { fromSqlFile: [masEmptySql("1.22.0"), masProvidersSql] });
        await writeSynapseConfig(scenario.dir, { databaseUri: server.uri("synapse"), overrides: GUESTS_OFF });
        await writeMasConfig(scenario.dir, { uri: server.uri("mas") });
        const before = await server.dump("mas");
        const dataDir = (await server.sql<{ d: string }>("postgres", "SELECT current_setting('data_directory') AS d"))[0]
          ?.d as string;
        const postmasterPid = Number.parseInt(
          (await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0] as string,
          10,
        );

        const migration = startCli(["migrate", ...scenario.configArgs]);
        await waitFor(
          "devices to start",
          () => migration.stderr().includes("devices: started") || migration.child.exitCode !== null,
        );
        assert.equal(migration.child.exitCode, null, migration.stderr());
        process.kill(postmasterPid, "SIGINT"); // what `pg_ctl stop -m fast` sends
        const result = await migration.done;
        assert.equal(result.code, EXIT_TOOL_FAILURE, describeRun(result));
        const line = assertOneErrorLine(result.stderr, /\bMAS\b|\bSynapse\b/);
        t.diagnostic(line);
        assert.match(line, /the database server shut down/);
        assert.match(line, /nothing was written/);
        assert.match(line, /\(fix: start the database server again/);

        await waitFor("the server to stop", () => !existsSync(join(dataDir, "postmaster.pid")));
        await restart(server, dataDir);
        assert.equal(await server.dump("mas"), before, "MAS changed");
      } finally {
        await server.stop();
      }
    },
  );

  it(
    "a MAS table locked by another session: after the lock timeout, one line naming its pid and application",
    { timeout: 120_000 },
    async (t) => {
      const scenario = await prepareScenario(cluster, "fail_lock", { synapseOverrides: GUESTS_OFF });
      const before = await cluster.dump(scenario.masDb);
      const holder = new pg.Client({ connectionString: cluster.uri(scenario.masDb), application_name: "mas-test" });
      await holder.connect();
      try {
        const pid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number;
        await holder.query("BEGIN");
        await holder.query("LOCK TABLE users IN ACCESS SHARE MODE");
        const result = await runCli(["migrate", ...scenario.configArgs]);
        assert.equal(result.code, EXIT_TOOL_FAILURE, describeRun(result));
        const line = assertOneErrorLine(result.stderr, /\bMAS\b/);
        t.diagnostic(line);
        assert.ok(line.includes(`pid ${pid}, application "mas-test", holding users`), line);
        assert.match(line, /nothing was written/);
        assert.match(line, /\(fix: stop MAS .*first/);
      } finally {
        await holder.end();
      }
      assert.equal(await cluster.dump(scenario.masDb), before, "MAS changed");
    },
  );

  it("a MAS database that does not exist: the hint says to create it and run mas-cli's migrate and config sync", async () => {
    const scenario = await prepareScenario(cluster, "fail_no_mas_db", { synapseOverrides: GUESTS_OFF });
    await writeMasConfig(scenario.dir, { uri: cluster.uri("no_such_mas") });
    const result = await runCli(["migrate", ...scenario.configArgs]);
    assert.equal(result.code, EXIT_TOOL_FAILURE, describeRun(result));
    const line = assertOneErrorLine(result.stderr, /the MAS database postgres@127\.0\.0\.1:\d+\/no_such_mas/);
    assert.match(line, /: the database does not exist \(fix: create it .*`mas-cli database migrate` and `mas-cli config sync`/);
  });

  it("no password for a server that asks for one: one line saying so, not the driver's SCRAM message", async () => {
    const scenario = await prepareScenario(cluster, "fail_no_password", { synapseOverrides: GUESTS_OFF });
    await cluster.sql("postgres", "CREATE ROLE pw_user LOGIN SUPERUSER PASSWORD 'pw-secret-1234'");
    const hbaFile = (await cluster.sql<{ f: string }>("postgres", "SELECT current_setting('hba_file') AS f"))[0]?.f as string;
    const hba = await readFile(hbaFile, "utf8");
    try {
      await writeFile(hbaFile, `host all pw_user 127.0.0.1/32 scram-sha-256\n${hba}`);
      await cluster.sql("postgres", "SELECT pg_reload_conf()");
      const uri = new URL(cluster.uri(scenario.masDb));
      uri.username = "pw_user";
      await writeMasConfig(scenario.dir, { uri: uri.toString() });
      const result = await runCli(["migrate", ...scenario.configArgs]);
      assert.equal(result.code, EXIT_TOOL_FAILURE, describeRun(result));
      const line = assertOneErrorLine(result.stderr, /the MAS database pw_user@127\.0\.0\.1:\d+\//);
      assert.match(line, /the server asks for a password and none is given \(fix: set the password/);
      assert.doesNotMatch(result.stderr, /SASL|SCRAM|must be a string/);

      // With the password given, the same user connects (the rule above is what asked for it).
      uri.password = "pw-secret-1234";
      await writeMasConfig(scenario.dir, { uri: uri.toString() });
      const withPassword = await runCli(["check", ...scenario.configArgs]);
      assert.doesNotMatch(withPassword.stderr, /cannot connect/, describeRun(withPassword));
      assert.doesNotMatch(withPassword.stderr + withPassword.stdout, /pw-secret-1234/);
    } finally {
      await writeFile(hbaFile, hba);
      await cluster.sql("postgres", "SELECT pg_reload_conf()");
    }
  });

  for (const [signal, dryRun] of [
    ["SIGINT", false],
    ["SIGTERM", true],
  ] as const) {
    const run = dryRun ? "a dry run" : "a migration";
    it(
      `${signal} mid-load of ${run}: exit 130 saying it was rolled back, and MAS is unchanged`,
      { timeout: 120_000 },
      async () => {
        const scenario = await bulkScenario(`interrupt_load_${signal}`);
        const before = await cluster.dump(scenario.masDb);
        const migration = startCli(["migrate", ...scenario.configArgs, ...(dryRun ? ["--dry-run", "--json"] : [])]);
        await waitFor(
          "devices to start",
          () => migration.stderr().includes("devices: started") || migration.child.exitCode !== null,
        );
        assert.equal(migration.child.exitCode, null, migration.stderr());
        migration.child.kill(signal);
        const result = await migration.done;
        assert.equal(result.code, EXIT_INTERRUPTED, describeRun(result));
        const said = new RegExp(
          `^syn2mas: interrupted \\(${signal}\\): the migration was rolled back: nothing was written to MAS`,
          "m",
        );
        assert.match(result.stderr, said);
        assert.doesNotMatch(result.stderr, /committed/);
        if (dryRun) assert.equal((JSON.parse(result.stdout) as { migration: string }).migration, "rolled back");
        await waitFor("the run's sessions to end", () => noClientSessions(cluster, scenario.masDb));
        assert.equal(await cluster.dump(scenario.masDb), before, "MAS changed");
      },
    );
  }

  /**
   * Makes COMMITs in `masDb` wait for a synchronous standby that never comes, runs `during` once the
   * tool's COMMIT waits, then lets COMMITs through again.
   */
  async function withCommitHeld(
    scenario: Scenario,
    during: (migration: Background) => Promise<void>,
    flags: string[] = [],
  ): Promise<CliResult> {
    await cluster.sql("postgres", `ALTER DATABASE ${scenario.masDb} SET synchronous_commit = on`);
    await cluster.sql("postgres", "ALTER SYSTEM SET synchronous_standby_names = 'syn2mas_test_absent_standby'");
    await cluster.sql("postgres", "SELECT pg_reload_conf()");
    try {
      const migration = startCli(["migrate", ...scenario.configArgs, ...flags]);
      await waitFor(
        "the run's COMMIT to wait",
        async () => migration.child.exitCode !== null || (await heldCommits(scenario)) > 0,
      );
      assert.equal(migration.child.exitCode, null, migration.stderr());
      await during(migration);
      return await migration.done;
    } finally {
      await cluster.sql("postgres", "ALTER SYSTEM RESET synchronous_standby_names");
      await cluster.sql("postgres", "SELECT pg_reload_conf()");
    }
  }

  /** Sessions of the MAS database whose COMMIT waits for the standby (its locks held until then). */
  async function heldCommits(scenario: Scenario): Promise<number> {
    const rows = await cluster.sql<{ n: number }>(
      "postgres",
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'SyncRep' AND query = 'COMMIT'",
      [scenario.masDb],
    );
    return rows[0]?.n ?? -1;
  }

  async function releaseCommits(): Promise<void> {
    await cluster.sql("postgres", "ALTER SYSTEM RESET synchronous_standby_names");
    await cluster.sql("postgres", "SELECT pg_reload_conf()");
  }

  async function masUsers(scenario: Scenario): Promise<number> {
    return (await cluster.sql<{ n: number }>(scenario.masDb, "SELECT count(*)::int AS n FROM users"))[0]?.n ?? -1;
  }

  it(
    "SIGINT while COMMIT is in flight: waits for COMMIT's answer, says committed (also in --json), and MAS holds the users",
    { timeout: 120_000 },
    async () => {
      const scenario = await prepareScenario(cluster, "interrupt_commit", { synapseOverrides: GUESTS_OFF });
      await waitFor("no session left", () => noClientSessions(cluster, scenario.masDb, scenario.synapseDb));
      const result = await withCommitHeld(
        scenario,
        async (migration) => {
          migration.child.kill("SIGINT");
          await waitFor("the handler to wait", () => migration.stderr().includes("COMMIT is in flight"));
          assert.equal(await heldCommits(scenario), 1, "the COMMIT was not held");
          await releaseCommits();
        },
        ["--json"],
      );
      assert.equal(result.code, EXIT_INTERRUPTED, describeRun(result));
      assert.match(
        result.stderr,
        /^syn2mas: interrupted \(SIGINT\): the migration had already committed: MAS holds the migrated data/m,
      );
      assert.deepEqual(JSON.parse(result.stdout), {
        command: "migrate",
        status: "interrupted",
        exitCode: 130,
        signal: "SIGINT",
        migration: "committed",
      });
      assert.doesNotMatch(result.stderr, /rolled back/);
      assert.equal(await masUsers(scenario), FIXTURE_MAS_USERS);
    },
  );

  it(
    "the MAS connection terminated while COMMIT waits: the tool asks MAS, which committed, and reports the migration done",
    { timeout: 120_000 },
    async () => {
      const scenario = await prepareScenario(cluster, "commit_answer_lost", { synapseOverrides: GUESTS_OFF });
      await waitFor("no session left", () => noClientSessions(cluster, scenario.masDb, scenario.synapseDb));
      const result = await withCommitHeld(scenario, async () => {
        // PostgreSQL ends the wait: the transaction committed locally, but COMMIT's answer never reaches the tool.
        assert.equal(await terminate(scenario.masDb, "wait_event = 'SyncRep'"), 1);
      });
      assert.equal(result.code, 0, describeRun(result));
      assert.match(result.stderr, /^Migration committed\./m);
      assert.doesNotMatch(result.stderr, /error|rolled back/i);
      assert.equal(await masUsers(scenario), FIXTURE_MAS_USERS);
    },
  );

  it(
    "a second SIGINT while COMMIT is held: asks MAS, says it is still committing, and it then completes",
    { timeout: 120_000 },
    async () => {
      const scenario = await prepareScenario(cluster, "interrupt_commit_twice", { synapseOverrides: GUESTS_OFF });
      await waitFor("no session left", () => noClientSessions(cluster, scenario.masDb, scenario.synapseDb));
      const result = await withCommitHeld(scenario, async (migration) => {
        migration.child.kill("SIGINT");
        await waitFor("the handler to wait", () => migration.stderr().includes("COMMIT is in flight"));
        migration.child.kill("SIGINT");
        await migration.done;
        // The tool is gone; its session's COMMIT still waits, as the message says.
        assert.equal(await heldCommits(scenario), 1, "the COMMIT was not held");
      });
      assert.equal(result.code, EXIT_INTERRUPTED, describeRun(result));
      assert.match(result.stderr, /^syn2mas: interrupted \(SIGINT\): MAS is still committing the migration/m);
      assert.doesNotMatch(result.stderr, /rolled back|had already committed/);
      // Released, the held COMMIT completes without the tool: what the message said it would do.
      await waitFor("the held COMMIT to complete", async () => (await masUsers(scenario)) === FIXTURE_MAS_USERS);
    },
  );
});

/** Starts a stopped throwaway server again on its port, as its own account. */
async function restart(server: Cluster, dataDir: string): Promise<void> {
  const { command, args } = serverUser().wrap(findPgTools().pgCtl, [
    "start",
    "-D",
    dataDir,
    "-l",
    join(server.dir, "restart.log"),
    "-w",
    "-o",
    `-p ${server.port}`,
  ]);
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("PG")));
  await run(command, args, { cwd: server.dir, env: { ...env, LC_ALL: "C" } });
}

/** Adds BULK_USERS users with an email, an external id, a device with a token and a deviceless token each, and UNPAIRED_REFRESH_TOKENS unpaired refresh tokens among them. */
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
  ];
  for (const sql of statements) await cluster.sql(db, sql, [BULK_USERS]);
  await cluster.sql(
    db,
    `INSERT INTO refresh_tokens (id, user_id, device_id, token)
     SELECT 1000000000 + n, '@bulk' || m || ':example.com', 'BULK' || m, 'syr_bulk_' || n
       FROM generate_series(1, $2::int) AS n, LATERAL (SELECT 1 + n % $1::int AS m) AS owner`,
    [BULK_USERS, UNPAIRED_REFRESH_TOKENS],
  );
  await cluster.sql(db, "ANALYZE");
}
