/**
 * The safety promises of the online migration (`prepare`, then `migrate` with a stage), through the
 * built CLI on the PostgreSQL fixture, each checked on the databases' contents (the harness's
 * fingerprint: every table's row count and md5 of its rows, the stage's and its meta's included):
 * `kill -9` mid-prepare leaves no stage (a first prepare) or the previous one (a later prepare) and
 * MAS's tables empty, and a rerun then a cut-over verify;
 * `kill -9` mid-cut-over leaves MAS's tables empty and the stage as it was, and a rerun verifies; a
 * cut-over stopped after its commit, before it checked the keys it added back, is named by `status`
 * and `check`, and a rerun of `migrate` checks those keys (and says which one fails); a
 * cut-over's dry run changes nothing; a cut-over is refused while Synapse runs (and a prepare is
 * not); a prepare on a SQLite Synapse exits 1 with one line and writes nothing.
 */
import { TABLE_ORDER } from "../../src/target/tables.ts";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { synapseSqliteDb } from "../harness/fixtures.ts";
import { describeRun, runningChildren, startCli, waitFor } from "../harness/background.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { clientSessions, noClientSessions } from "../harness/sessions.ts";
import { copySqliteFixture, prepareSqliteScenario } from "../harness/sqlite.ts";
import { EXIT_TOOL_FAILURE } from "../../src/cli/exit-codes.ts";

/** Users the fixture migrates (50 Synapse users minus 3 application-service users). */
const FIXTURE_MAS_USERS = 47;
/** Extra Synapse users (each with one device) that make a first prepare last a few seconds. */
const BULK_USERS = 100_000;
const STAGE = "syn2mas_stage";
const EXIT_OK = 0;
const EXIT_BLOCKED = 10;
const MAS_TABLES: readonly string[] = TABLE_ORDER;
const EMPTY_MAS = Object.fromEntries(MAS_TABLES.map((t) => [t, 0]));

describe("online migration safety", { timeout: 900_000 }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    for (const child of runningChildren) child.kill("SIGKILL");
    await cluster?.stop();
  });

  /** Waits until nobody is connected to the scenario's databases (a cut-over refuses while anything uses Synapse's). */
  async function settle(s: Scenario): Promise<void> {
    await waitFor(`no session on ${s.synapseDb} and ${s.masDb}`, () => noClientSessions(cluster, s.synapseDb, s.masDb));
  }

  async function cli(command: string, s: Scenario, ...flags: string[]): Promise<CliResult> {
    await settle(s);
    return runCli([command, ...s.configArgs, ...flags]);
  }

  async function masRows(s: Scenario): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const t of MAS_TABLES) {
      counts[t] = (await cluster.sql<{ n: number }>(s.masDb, `SELECT count(*)::int AS n FROM public.${t}`))[0]?.n ?? -1;
    }
    return counts;
  }

  /** Rows of each of the stage's tables, and its meta row as text (null without a stage). */
  async function stageContents(s: Scenario): Promise<{ rows: Record<string, number>; meta: string } | null> {
    const found = await cluster.sql<{ n: number }>(s.masDb, "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1", [
      STAGE,
    ]);
    if (found[0]?.n === 0) return null;
    const rows: Record<string, number> = {};
    for (const t of [...MAS_TABLES, "synapse_users"]) {
      rows[t] = (await cluster.sql<{ n: number }>(s.masDb, `SELECT count(*)::int AS n FROM ${STAGE}.${t}`))[0]?.n ?? -1;
    }
    const meta = await cluster.sql<{ m: string }>(s.masDb, `SELECT m::text AS m FROM ${STAGE}.meta m`);
    assert.equal(meta.length, 1, "one meta row");
    return { rows, meta: meta[0]?.m as string };
  }

  /** Adds BULK_USERS users `@bulk{n}:example.com` with a bcrypt-looking hash and one device each. */
  async function inflateSynapse(s: Scenario): Promise<void> {
    await cluster.sql(
      s.synapseDb,
      `INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, suspended)
       SELECT '@bulk' || n || ':example.com', '$2b$12$' || substr(md5(n::text) || md5('salt' || n::text), 1, 53),
              1700000000 + n, 0, 0, 0, false, false
         FROM generate_series(1, $1::int) AS n`,
      [BULK_USERS],
    );
    await cluster.sql(
      s.synapseDb,
      `INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden)
       SELECT '@bulk' || n || ':example.com', 'BULK' || n, 'Bulk client', 1700000000000 + n, '10.0.0.1', 'bulk/1.0', false
         FROM generate_series(1, $1::int) AS n`,
      [BULK_USERS],
    );
    await cluster.sql(s.synapseDb, "ANALYZE");
  }

  /** One Synapse user more, created after every other (a change for the next run to pick up). */
  async function addSynapseUser(s: Scenario, localpart: string): Promise<void> {
    await cluster.sql(
      s.synapseDb,
      `INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, suspended)
       VALUES ($1, NULL, (SELECT max(creation_ts) + 1 FROM users), 0, 0, 0, false, false)`,
      [`@${localpart}:example.com`],
    );
  }

  /** The cut-over and `verify` after it: exit 0 both, MAS holding `users` users, no stage left. */
  async function cutOverVerifies(s: Scenario, users: number): Promise<void> {
    const cutOver = await cli("migrate", s);
    assert.equal(cutOver.code, EXIT_OK, describeRun(cutOver));
    assert.equal((await masRows(s))["users"], users);
    assert.equal(await stageContents(s), null, "the cut-over moved the stage in");
    const verify = await cli("verify", s);
    assert.equal(verify.code, EXIT_OK, describeRun(verify));
  }

  it("kill -9 during a first prepare: no stage, MAS's tables empty; a rerun and a cut-over verify", async () => {
    const s = await prepareScenario(cluster, "staged_kill_prepare", { synapseOverrides: GUESTS_OFF });
    await inflateSynapse(s);
    const before = await cluster.dump(s.masDb);
    await settle(s);

    const run = startCli(["prepare", ...s.configArgs]);
    // "users: N rows in S s" is printed once users and user_passwords are in the stage (inside the
    // open transaction); the devices phase, as large again, is still to come.
    await waitFor("the users phase to finish", () => /^\s*users: \d+ rows in/m.test(run.stderr()) || run.child.exitCode !== null);
    assert.equal(run.child.exitCode, null, `the prepare ended before it could be killed:\n${run.stderr()}`);
    const inTransaction = await clientSessions(cluster, s.masDb, "xact_start IS NOT NULL");
    run.child.kill("SIGKILL");
    assert.deepEqual(inTransaction, ["syn2mas prepare (MAS)"], "the prepare's MAS transaction was under way");
    const killed = await run.done;
    assert.equal(killed.signal, "SIGKILL", describeRun(killed));
    assert.doesNotMatch(killed.stderr, /committed/i, "the kill landed after COMMIT (a timing race): make BULK_USERS larger");

    await settle(s);
    assert.equal(
      await stageContents(s),
      null,
      "a stage after the killed first prepare: the kill landed after COMMIT (a timing race, not a pass); make BULK_USERS larger",
    );
    assert.deepEqual(await masRows(s), EMPTY_MAS);
    assert.equal(await cluster.dump(s.masDb), before, "the killed prepare left something in MAS's database");

    const rerun = await cli("prepare", s);
    assert.equal(rerun.code, EXIT_OK, describeRun(rerun));
    const stage = await stageContents(s);
    assert.equal(stage?.rows["users"], FIXTURE_MAS_USERS + BULK_USERS);
    assert.deepEqual(await masRows(s), EMPTY_MAS, "a prepare leaves MAS's tables alone");
    await cutOverVerifies(s, FIXTURE_MAS_USERS + BULK_USERS);
  });

  it("kill -9 during a later prepare: the stage as the previous prepare left it; a rerun brings the change in", async () => {
    const s = await prepareScenario(cluster, "staged_kill_delta", { synapseOverrides: GUESTS_OFF });
    const first = await cli("prepare", s);
    assert.equal(first.code, EXIT_OK, describeRun(first));
    // Every device renamed: every user with a device is read again, its stage rows deleted first.
    await cluster.sql(s.synapseDb, "UPDATE devices SET display_name = coalesce(display_name, '') || ' (renamed)'");
    const stageBefore = await stageContents(s);
    const before = await cluster.dump(s.masDb);

    // SHARE on the stage's users table: the prepare deletes the changed users' rows from the other
    // stage tables (children first), then waits at its users table, inside its transaction.
    const holder = new pg.Client({ connectionString: cluster.uri(s.masDb), application_name: "test lock holder" });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`LOCK TABLE ${STAGE}.users IN SHARE MODE`);
      const run = startCli(["prepare", ...s.configArgs]);
      await waitFor("the prepare to wait at the stage's users table", async () => {
        if (run.child.exitCode !== null) return true;
        const waiting = await clientSessions(
          cluster,
          s.masDb,
          `xact_start IS NOT NULL AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM ${STAGE}.users %'`,
        );
        return waiting.includes("syn2mas prepare (MAS)");
      });
      assert.equal(run.child.exitCode, null, `the prepare ended before it reached the stage's users:\n${run.stderr()}`);
      run.child.kill("SIGKILL");
      const killed = await run.done;
      assert.equal(killed.signal, "SIGKILL", describeRun(killed));
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      await holder.end();
    }

    await settle(s);
    assert.deepEqual(await stageContents(s), stageBefore, "the stage as the first prepare left it (rows per table, meta)");
    assert.deepEqual(await masRows(s), EMPTY_MAS);
    assert.equal(await cluster.dump(s.masDb), before, "the killed prepare changed MAS's database");

    const rerun = await cli("prepare", s);
    assert.equal(rerun.code, EXIT_OK, describeRun(rerun));
    const renamed = await cluster.sql<{ n: number }>(
      s.masDb,
      `SELECT count(*)::int AS n FROM ${STAGE}.compat_sessions WHERE human_name LIKE '% (renamed)'`,
    );
    assert.ok((renamed[0]?.n ?? 0) > 0, "the rerun brought the renamed devices in");
    await cutOverVerifies(s, FIXTURE_MAS_USERS);
  });

  it("kill -9 during the cut-over: MAS's tables empty, the stage as it was; a rerun verifies", async () => {
    const s = await prepareScenario(cluster, "staged_kill_cutover", { synapseOverrides: GUESTS_OFF });
    const prepared = await cli("prepare", s);
    assert.equal(prepared.code, EXIT_OK, describeRun(prepared));
    // A change for the cut-over to bring into the stage before it moves it (its delta, written then lost).
    await addSynapseUser(s, "latecomer");
    const stageBefore = await stageContents(s);
    assert.equal(stageBefore?.rows["users"], FIXTURE_MAS_USERS);
    const before = await cluster.dump(s.masDb);
    await settle(s);

    // A reader of MAS's compat_refresh_tokens in an open transaction: the cut-over's LOCK TABLE of
    // MAS's tables waits for it, inside the cut-over's transaction, after the delta is in the stage.
    const reader = new pg.Client({ connectionString: cluster.uri(s.masDb), application_name: "test reader" });
    await reader.connect();
    let run: ReturnType<typeof startCli> | undefined;
    try {
      await reader.query("BEGIN");
      await reader.query("LOCK TABLE public.compat_refresh_tokens IN ACCESS SHARE MODE");
      run = startCli(["migrate", ...s.configArgs]);
      const cutOver = run;
      await waitFor("the cut-over to wait for MAS's tables", async () => {
        if (cutOver.child.exitCode !== null) return true;
        const waiting = await clientSessions(
          cluster,
          s.masDb,
          "xact_start IS NOT NULL AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'",
        );
        return waiting.includes("syn2mas migrate (MAS)");
      });
      assert.equal(cutOver.child.exitCode, null, `the cut-over ended before it reached MAS's tables:\n${cutOver.stderr()}`);
      cutOver.child.kill("SIGKILL");
      const killed = await cutOver.done;
      assert.equal(killed.signal, "SIGKILL", describeRun(killed));
    } finally {
      await reader.query("ROLLBACK").catch(() => undefined);
      await reader.end();
    }

    await settle(s);
    assert.deepEqual(await masRows(s), EMPTY_MAS, "MAS's tables as they were: empty");
    assert.deepEqual(await stageContents(s), stageBefore, "the stage as the prepare left it (rows per table, meta)");
    assert.equal(await cluster.dump(s.masDb), before, "the killed cut-over changed MAS's database");

    await cutOverVerifies(s, FIXTURE_MAS_USERS + 1);
    const latecomer = await cluster.sql<{ n: number }>(
      s.masDb,
      "SELECT count(*)::int AS n FROM users WHERE username = 'latecomer'",
    );
    assert.equal(latecomer[0]?.n, 1, "the rerun brought the change in");
  });

  it("a cut-over stopped before it checked its foreign keys: status and check say so, a rerun of migrate checks them", async () => {
    const s = await prepareScenario(cluster, "staged_unchecked_keys", { synapseOverrides: GUESTS_OFF });
    const prepared = await cli("prepare", s);
    assert.equal(prepared.code, EXIT_OK, describeRun(prepared));
    await cutOverVerifies(s, FIXTURE_MAS_USERS);
    // What a kill between the cut-over's commit and the end of its checks leaves: keys it added back
    // NOT VALID (one from another MAS table, and user_passwords' own), never validated.
    const keys = await cluster.sql<{ t: string; k: string; def: string }>(
      s.masDb,
      `SELECT c.conrelid::regclass::text AS t, c.conname AS k, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
        WHERE c.contype = 'f' AND ((c.confrelid = 'users'::regclass AND NOT c.conrelid::regclass::text = ANY($1))
           OR c.conname = 'user_passwords_upgraded_from_id_fkey')
        ORDER BY c.conrelid::regclass::text <> 'user_passwords', 1, 2 LIMIT 2`,
      [MAS_TABLES],
    );
    assert.equal(keys.length, 2);
    const names = keys.map((k) => `${k.t}.${k.k}`).sort();
    for (const { t, k, def } of keys) {
      await cluster.sql(s.masDb, `ALTER TABLE ${t} DROP CONSTRAINT ${k}; ALTER TABLE ${t} ADD CONSTRAINT ${k} ${def} NOT VALID`);
    }
    const unchecked = async () =>
      (
        await cluster.sql<{ n: string }>(
          s.masDb,
          "SELECT c.conrelid::regclass::text || '.' || c.conname AS n FROM pg_constraint c WHERE c.contype = 'f' AND NOT c.convalidated ORDER BY 1",
        )
      ).map((r) => r.n);
    assert.deepEqual(await unchecked(), names);

    const status = await cli("status", s, "--json");
    const evidence = (
      JSON.parse(status.stdout) as { evidence: { code: string; count?: number; examples?: string[] }[]; next: string }
    ).evidence;
    const said = evidence.find((e) => e.code === "UNCHECKED_FOREIGN_KEYS");
    assert.equal(said?.count, 2, describeRun(status));
    assert.deepEqual(said?.examples, names);
    const check = await cli("check", s);
    assert.equal(check.code, EXIT_BLOCKED, describeRun(check));
    assert.match(
      check.stdout + check.stderr,
      /its cut-over stopped before it had checked 2 foreign keys: run `syn2mas migrate` again/,
    );

    const dry = await cli("migrate", s, "--dry-run", "--json");
    assert.equal(dry.code, EXIT_OK, describeRun(dry));
    assert.equal((JSON.parse(dry.stdout) as { status: string }).status, "keys_checked");
    assert.match(dry.stderr, /Dry run: nothing checked/);
    assert.deepEqual(await unchecked(), names, "the dry run checked nothing");

    const rerun = await cli("migrate", s, "--json");
    assert.equal(rerun.code, EXIT_OK, describeRun(rerun));
    assert.deepEqual((JSON.parse(rerun.stdout) as { foreignKeysChecked: string[] }).foreignKeysChecked, names);
    assert.match(rerun.stderr, /checked now, every row holds/);
    assert.deepEqual(await unchecked(), [], "every key checked");
    assert.equal((await masRows(s))["users"], FIXTURE_MAS_USERS, "nothing else written");
    const again = await cli("migrate", s);
    assert.equal(again.code, EXIT_BLOCKED, "then the migration is complete: ALREADY_MIGRATED");
    assert.match(again.stdout + again.stderr, /ALREADY_MIGRATED/);

    // A key that does not hold: a row written while it was unchecked. The rerun says which, and keeps the key unchecked.
    const [passwords] = keys.filter((k) => k.t === "user_passwords");
    assert.ok(passwords);
    await cluster.sql(
      s.masDb,
      `ALTER TABLE user_passwords DROP CONSTRAINT ${passwords.k};
       INSERT INTO user_passwords (user_password_id, user_id, hashed_password, version, upgraded_from_id, created_at)
         SELECT gen_random_uuid(), user_id, hashed_password, version, gen_random_uuid(), created_at FROM user_passwords LIMIT 1;
       ALTER TABLE user_passwords ADD CONSTRAINT ${passwords.k} ${passwords.def} NOT VALID`,
    );
    const failed = await cli("migrate", s);
    assert.equal(failed.code, EXIT_TOOL_FAILURE, describeRun(failed));
    assert.equal(
      failed.stderr.trimEnd().split("\n").at(-1),
      `syn2mas: error: the migration committed, but MAS's foreign key ${passwords.k} on user_passwords does not hold for ` +
        "every row (fix: run `syn2mas verify` to see which rows differ, and `syn2mas rollback` to undo the migration)",
    );
    assert.deepEqual(await unchecked(), [`user_passwords.${passwords.k}`]);
  });

  it("migrate --dry-run with a stage leaves MAS and the stage exactly as they were", async () => {
    const s = await prepareScenario(cluster, "staged_dry_run", { synapseOverrides: GUESTS_OFF });
    const prepared = await cli("prepare", s);
    assert.equal(prepared.code, EXIT_OK, describeRun(prepared));
    await addSynapseUser(s, "latecomer");
    const stageBefore = await stageContents(s);
    const before = await cluster.dump(s.masDb);

    const dry = await cli("migrate", s, "--dry-run", "--json");
    assert.equal(dry.code, EXIT_OK, describeRun(dry));
    const json = JSON.parse(dry.stdout) as { status: string; report: { dryRun: boolean; written: Record<string, number> } };
    assert.equal(json.status, "done");
    assert.equal(json.report.dryRun, true);
    assert.equal(json.report.written["users"], FIXTURE_MAS_USERS + 1, "the rehearsal counted the latecomer in");

    assert.deepEqual(await masRows(s), EMPTY_MAS);
    assert.deepEqual(await stageContents(s), stageBefore);
    assert.equal(await cluster.dump(s.masDb), before, "the dry run changed MAS's database (its tables or the stage)");
  });

  it("a cut-over is refused while Synapse runs (exit 10, nothing changed); a prepare runs beside it", async () => {
    const s = await prepareScenario(cluster, "staged_synapse_running", { synapseOverrides: GUESTS_OFF });
    const prepared = await cli("prepare", s);
    assert.equal(prepared.code, EXIT_OK, describeRun(prepared));
    await addSynapseUser(s, "latecomer");
    const stageBefore = await stageContents(s);
    const before = await cluster.dump(s.masDb);
    await settle(s);

    const synapse = new pg.Client({ connectionString: cluster.uri(s.synapseDb), application_name: "synapse_main" });
    await synapse.connect();
    try {
      const refused = await runCli(["migrate", ...s.configArgs]);
      assert.equal(refused.code, EXIT_BLOCKED, describeRun(refused));
      assert.match(refused.stderr, /SYNAPSE_RUNNING/);
      assert.deepEqual(await masRows(s), EMPTY_MAS);
      assert.deepEqual(await stageContents(s), stageBefore);
      assert.equal(await cluster.dump(s.masDb), before, "the refused cut-over changed MAS's database");

      const beside = await runCli(["prepare", ...s.configArgs]);
      assert.equal(beside.code, EXIT_OK, describeRun(beside));
      const stageAfter = await stageContents(s);
      assert.equal(stageAfter?.rows["users"], FIXTURE_MAS_USERS + 1, "the prepare brought the latecomer in");
      assert.notEqual(stageAfter?.meta, stageBefore?.meta, "the prepare recorded its progress");
      assert.deepEqual(await masRows(s), EMPTY_MAS, "a prepare leaves MAS's tables alone");
    } finally {
      await synapse.end();
    }
  });

  it("prepare on a SQLite Synapse: exit 1, one line with the cause and the fix, nothing written", async () => {
    const dbPath = copySqliteFixture(synapseSqliteDb, scratchDir("syn2mas-staged-sqlite-"));
    const s = await prepareSqliteScenario(cluster, "staged_sqlite", dbPath, { synapseOverrides: GUESTS_OFF });
    const before = await cluster.dump(s.masDb);
    const result = await runCli(["prepare", ...s.configArgs]);
    assert.equal(result.code, EXIT_TOOL_FAILURE, describeRun(result));
    // The run's heading, then the error on one line (no stack trace).
    assert.deepEqual(result.stderr.trimEnd().split("\n"), [
      "Preparing the stage: Synapse example.com -> MAS",
      "syn2mas: error: an online migration (prepare) needs Synapse's database on PostgreSQL: changes are found from " +
        "its row versions (fix: migrate a SQLite Synapse with `syn2mas migrate` while Synapse is stopped)",
    ]);
    assert.equal(result.stdout, "");
    assert.equal(await stageContents(s), null);
    assert.equal(await cluster.dump(s.masDb), before, "MAS's database changed");
  });
});
