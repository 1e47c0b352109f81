/**
 * `syn2mas rollback` (issue 14, item 3) and ALREADY_MIGRATED (item 2), through the built CLI on the
 * real fixture, PostgreSQL into MAS 1.22 (and 1.0): a rollback returns MAS to the fingerprint of the
 * empty MAS it was before the migration (sequences aside), after which a migration and `verify`
 * pass again; activity since the migration refuses it (exit 10, named) unless it is discarded
 * (listed, removed with the rows of MAS's other tables that reference the users); a dry run and a
 * `kill -9` change nothing; Synapse is never written, and its `oauth-delegated` rows are reported
 * with the statement that removes them.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { MIGRATION_LOCK_KEY } from "../../src/target/probe.ts";
import { synapseSqliteDb, type MasVersion } from "../harness/fixtures.ts";
import { describeRun, runningChildren, startCli, waitFor } from "../harness/background.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { clientSessions, noClientSessions } from "../harness/sessions.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { prepareSqliteScenario, snapshotFiles } from "../harness/sqlite.ts";

type Counts = Record<string, number>;
interface ActivityJson {
  kinds: Record<string, { count: number; examples: string[] }>;
  total: number;
}
interface RollbackJson {
  command: string;
  status: "rolled_back" | "blocked";
  exitCode: number;
  dryRun: boolean;
  record: { committedAt: string; toolVersion: string; counts: Counts };
  activity: ActivityJson;
  removed: { rows: { table: string; count: number }[]; migrationTables: Counts; referencingRows: Counts };
  recordRemoval: { records: number; schemaDropped: boolean } | null;
  activityLeft: ActivityJson | null;
  synapse: { oauthDelegated: { count: number; statement: string } };
}
interface MigrateJson {
  report: { written: Counts };
  findings: { code: string; severity: string; message: string; count?: number; examples?: string[] }[];
}

/** Users the fixture migrates (50 Synapse users minus 3 application-service users). */
const FIXTURE_MAS_USERS = 47;
const DELETE_STATEMENT = "DELETE FROM user_external_ids WHERE auth_provider = 'oauth-delegated';";

function parse(result: CliResult): RollbackJson {
  return JSON.parse(result.stdout) as RollbackJson;
}

/** A fingerprint without the sequences' positions (a rollback cannot, and need not, wind them back). */
function withoutSequenceState(fingerprint: string): string {
  return fingerprint
    .split("\n")
    .filter((line) => !line.startsWith("sequence-state "))
    .join("\n");
}

describe("rollback", { timeout: 900_000 }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    for (const child of runningChildren) child.kill("SIGKILL");
    await cluster?.stop();
  });

  /** Both databases' fingerprints. */
  async function fingerprints(s: Scenario): Promise<{ mas: string; synapse: string }> {
    return { mas: await cluster.dump(s.masDb), synapse: await cluster.dump(s.synapseDb) };
  }

  /** A fresh scenario migrated once: the empty MAS's fingerprint and the migration's report. */
  async function migrated(
    name: string,
    masVersion: MasVersion = "1.22.0",
  ): Promise<{ s: Scenario; emptyMas: string; written: Counts }> {
    const s = await prepareScenario(cluster, name, { masVersion, synapseOverrides: GUESTS_OFF });
    const emptyMas = await cluster.dump(s.masDb);
    const migrate = await runCli(["migrate", ...s.configArgs, "--accept-all-warnings", "--json"]);
    assert.equal(migrate.code, 0, describeRun(migrate));
    return { s, emptyMas, written: (JSON.parse(migrate.stdout) as MigrateJson).report.written };
  }

  async function masUsers(s: Scenario): Promise<number> {
    const rows = await cluster.sql<{ n: number }>(s.masDb, "SELECT count(*)::int AS n FROM users");
    return rows[0]?.n ?? -1;
  }

  /**
   * Holds the migration record's table from a session of the test's own (ACCESS SHARE): a rollback
   * reads and deletes the record, then waits to drop its table, its last step, with every other row gone.
   */
  async function holdRecordTable(s: Scenario): Promise<() => Promise<void>> {
    const holder = new pg.Client({ connectionString: cluster.uri(s.masDb), application_name: "test-holder" });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query("LOCK TABLE syn2mas.migrations IN ACCESS SHARE MODE");
    return async () => {
      await holder.query("ROLLBACK");
      await holder.end();
    };
  }

  for (const masVersion of ["1.22.0", "1.0.0"] as MasVersion[]) {
    describe(`after migrating the fixture into MAS ${masVersion}`, () => {
      let s: Scenario;
      let emptyMas: string;
      let written: Counts;
      let synapseBefore: string;

      before(async () => {
        ({ s, emptyMas, written } = await migrated(`rollback_${masVersion}`, masVersion));
        synapseBefore = await cluster.dump(s.synapseDb);
      });

      it("a second migrate is refused with ALREADY_MIGRATED, naming the date and the version; nothing written", async () => {
        const before_ = await fingerprints(s);
        const second = await runCli(["migrate", ...s.configArgs, "--accept-all-warnings", "--json"]);
        assert.equal(second.code, 10, describeRun(second));
        const json = JSON.parse(second.stdout) as MigrateJson;
        const errors = json.findings.filter((f) => f.severity === "error");
        assert.deepEqual(
          errors.map((f) => f.code),
          ["ALREADY_MIGRATED"],
        );
        const record = await cluster.sql<{ at: string }>(
          s.masDb,
          `SELECT to_char(committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM syn2mas.migrations`,
        );
        const committedAt = record[0]?.at as string;
        const message = errors[0]?.message as string;
        assert.ok(message.includes(`syn2mas 0.1.0 committed it at ${committedAt}`), message);
        assert.match(message, /\(47 users\)/);
        assert.match(message, /nothing to do/);
        assert.match(message, /`syn2mas rollback` first/);
        assert.equal(errors[0]?.count, FIXTURE_MAS_USERS);
        assert.doesNotMatch(second.stderr, /MAS_NOT_EMPTY/);
        assert.match(second.stderr, /ERROR ALREADY_MIGRATED \(47\)/);
        assert.deepEqual(await fingerprints(s), before_, "the refused migration changed a database");
      });

      it("check says ALREADY_MIGRATED too (exit 10)", async () => {
        const checked = await runCli(["check", ...s.configArgs, "--accept-all-warnings", "--json"]);
        assert.equal(checked.code, 10, describeRun(checked));
        const codes = (JSON.parse(checked.stdout) as MigrateJson).findings
          .filter((f) => f.severity === "error")
          .map((f) => f.code);
        assert.deepEqual(codes, ["ALREADY_MIGRATED"]);
      });

      it("--dry-run shows what it would remove and changes nothing", async () => {
        const before_ = await fingerprints(s);
        const dry = await runCli(["rollback", ...s.configArgs, "--dry-run", "--json"]);
        assert.equal(dry.code, 0, describeRun(dry));
        const json = parse(dry);
        assert.equal(json.status, "rolled_back");
        assert.equal(json.dryRun, true);
        assert.deepEqual(json.removed.migrationTables, written);
        assert.deepEqual(json.recordRemoval, { records: 1, schemaDropped: true });
        assert.match(dry.stderr, /Dry run: everything above was done, then rolled back; MAS is unchanged\./);
        assert.deepEqual(await fingerprints(s), before_, "the dry run changed a database");
      });

      it("rollback removes exactly the migration: MAS is the empty MAS again (sequences aside)", async () => {
        const result = await runCli(["rollback", ...s.configArgs, "--json"]);
        assert.equal(result.code, 0, describeRun(result));
        const json = parse(result);
        assert.equal(json.status, "rolled_back");
        assert.equal(json.exitCode, 0);
        assert.equal(json.record.toolVersion, "0.1.0");
        assert.deepEqual(json.record.counts, written);
        assert.deepEqual(json.activity.kinds, {});
        assert.deepEqual(json.removed.migrationTables, written, "every row the migration wrote, per table");
        assert.deepEqual(json.removed.referencingRows, {});
        assert.deepEqual(json.recordRemoval, { records: 1, schemaDropped: true });
        assert.deepEqual(json.synapse.oauthDelegated, { count: 0, statement: DELETE_STATEMENT });
        assert.match(result.stderr, new RegExp(`users\\s+${FIXTURE_MAS_USERS}\\n`));
        assert.match(result.stderr, /Rolled back: MAS holds no migration now/);
        const after_ = await fingerprints(s);
        assert.equal(withoutSequenceState(after_.mas), withoutSequenceState(emptyMas));
        assert.equal(after_.synapse, synapseBefore, "rollback wrote Synapse");
      });

      it("a second rollback has nothing to roll back: exit 1, one line", async () => {
        const before_ = await fingerprints(s);
        const again = await runCli(["rollback", ...s.configArgs, "--json"]);
        assert.equal(again.code, 1, describeRun(again));
        assert.equal(
          again.stderr.trim(),
          "syn2mas: error: MAS holds no syn2mas migration (no record in syn2mas.migrations, and no users): there is nothing " +
            "to roll back (fix: run `syn2mas migrate` when you are ready to migrate)",
        );
        assert.equal((JSON.parse(again.stdout) as { status: string }).status, "error");
        assert.deepEqual(await fingerprints(s), before_);
      });

      it("a migration after the rollback succeeds, and verify exits 0", async () => {
        const migrate = await runCli(["migrate", ...s.configArgs, "--accept-all-warnings", "--json"]);
        assert.equal(migrate.code, 0, describeRun(migrate));
        assert.deepEqual((JSON.parse(migrate.stdout) as MigrateJson).report.written, written);
        const verify = await runCli(["verify", ...s.configArgs]);
        assert.equal(verify.code, 0, describeRun(verify));
        assert.match(verify.stderr, /MAS holds every row the migration must have written/);
        assert.equal(await masUsers(s), FIXTURE_MAS_USERS);
        assert.equal(await cluster.dump(s.synapseDb), synapseBefore, "migrate or verify wrote Synapse");
      });
    });
  }

  describe("with activity in MAS since the migration", () => {
    let s: Scenario;
    let emptyMas: string;
    let synapseBefore: string;
    let withActivity: string;
    const SSO_SESSION = "01a2f000-0000-7000-8000-000000000001";

    before(async () => {
      ({ s, emptyMas } = await migrated("rollback_activity"));
      synapseBefore = await cluster.dump(s.synapseDb);
      // After the commit: a new user registers; user0001 logs in through the browser (a browser
      // session with its password authentication) and gets a compat session by SSO from it.
      await cluster.sql(
        s.masDb,
        `INSERT INTO users (user_id, username, created_at) VALUES ('01a2f000-0000-7000-8000-0000000000aa', 'newcomer', now());
         INSERT INTO user_sessions (user_session_id, user_id, created_at)
           SELECT '${SSO_SESSION}', user_id, now() FROM users WHERE username = 'user0001';
         INSERT INTO user_session_authentications (user_session_authentication_id, user_session_id, created_at, user_password_id)
           SELECT '01a2f000-0000-7000-8000-000000000002', '${SSO_SESSION}', now(), p.user_password_id
             FROM user_passwords p JOIN users u USING (user_id) WHERE u.username = 'user0001';
         INSERT INTO compat_sessions (compat_session_id, user_id, device_id, created_at, user_session_id)
           SELECT '01a2f000-0000-7000-8000-000000000003', user_id, 'NEWDEVICE', now(), '${SSO_SESSION}'
             FROM users WHERE username = 'user0001';`,
      );
      withActivity = await cluster.dump(s.masDb);
    });

    it("rollback refuses: exit 10, naming the activity and its users; nothing changed", async () => {
      const result = await runCli(["rollback", ...s.configArgs, "--json"]);
      assert.equal(result.code, 10, describeRun(result));
      const json = parse(result);
      assert.equal(json.status, "blocked");
      assert.deepEqual(json.activity.kinds.users_created, { count: 1, examples: ["newcomer"] });
      assert.deepEqual(json.activity.kinds.compat_sessions_created, { count: 1, examples: ["user0001"] });
      assert.deepEqual(json.activity.kinds.browser_sessions, { count: 1, examples: ["user0001"] });
      assert.deepEqual(json.removed.referencingRows, { user_session_authentications: 1, user_sessions: 1 });
      assert.equal(json.removed.migrationTables.users, FIXTURE_MAS_USERS + 1);
      assert.equal(json.recordRemoval, null);
      assert.match(result.stderr, /users_created: 1, e\.g\. newcomer/);
      assert.match(result.stderr, /compat_sessions_created: 1, e\.g\. user0001/);
      assert.match(result.stderr, /Rollback refused: .*run rollback again with --discard-mas-activity/);
      assert.equal(await cluster.dump(s.masDb), withActivity);
      assert.equal(await cluster.dump(s.synapseDb), synapseBefore);
    });

    it("--discard-mas-activity --dry-run lists it and changes nothing", async () => {
      const result = await runCli(["rollback", ...s.configArgs, "--discard-mas-activity", "--dry-run", "--json"]);
      assert.equal(result.code, 0, describeRun(result));
      assert.equal(parse(result).status, "rolled_back");
      assert.equal(await cluster.dump(s.masDb), withActivity);
    });

    it("--discard-mas-activity rolls back, lists what it discarded, and leaves the empty MAS", async () => {
      const result = await runCli(["rollback", ...s.configArgs, "--discard-mas-activity", "--json"]);
      assert.equal(result.code, 0, describeRun(result));
      const json = parse(result);
      assert.equal(json.status, "rolled_back");
      assert.deepEqual(json.activity.kinds.users_created, { count: 1, examples: ["newcomer"] });
      assert.deepEqual(json.activity.kinds.compat_sessions_created, { count: 1, examples: ["user0001"] });
      assert.deepEqual(json.removed.referencingRows, { user_session_authentications: 1, user_sessions: 1 });
      assert.equal(json.activityLeft?.total, 0);
      assert.match(result.stderr, /Activity in MAS since the migration, discarded \(--discard-mas-activity\):/);
      assert.match(result.stderr, /users_created: 1, e\.g\. newcomer/);
      assert.match(
        result.stderr,
        /rows of MAS's other tables that reference those users: user_session_authentications 1, user_sessions 1/,
      );
      assert.equal(withoutSequenceState(await cluster.dump(s.masDb)), withoutSequenceState(emptyMas));
      assert.equal(await cluster.dump(s.synapseDb), synapseBefore);
    });
  });

  it("reports Synapse's oauth-delegated rows with the statement, without touching them", async () => {
    const { s } = await migrated("rollback_delegated");
    // What a delegating Synapse writes on each login through MAS.
    await cluster.sql(
      s.synapseDb,
      `INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES
         ('oauth-delegated', '01J00000000000000000000001', '@user0001:example.com'),
         ('oauth-delegated', '01J00000000000000000000002', '@user0002:example.com')`,
    );
    const synapseBefore = await cluster.dump(s.synapseDb);
    const result = await runCli(["rollback", ...s.configArgs, "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.deepEqual(parse(result).synapse.oauthDelegated, { count: 2, statement: DELETE_STATEMENT });
    assert.match(result.stderr, /Synapse: 2 user_external_ids rows with auth_provider 'oauth-delegated'/);
    assert.ok(result.stderr.includes(`\n  ${DELETE_STATEMENT}\n`), result.stderr);
    assert.equal(await cluster.dump(s.synapseDb), synapseBefore, "rollback wrote Synapse");
    // They would block the next migration; the operator's statement removes them and it goes ahead.
    const blocked = await runCli(["migrate", ...s.configArgs, "--accept-all-warnings"]);
    assert.equal(blocked.code, 10, describeRun(blocked));
    assert.match(blocked.stderr, /OAUTH_DELEGATED_IDS/);
    await cluster.sql(s.synapseDb, DELETE_STATEMENT);
    const again = await runCli(["migrate", ...s.configArgs, "--accept-all-warnings"]);
    assert.equal(again.code, 0, describeRun(again));
  });

  it("kill -9 during the rollback leaves MAS as it was; a later rollback goes ahead", { timeout: 120_000 }, async () => {
    const { s, emptyMas } = await migrated("rollback_kill");
    const before_ = await fingerprints(s);
    await waitFor("the scenario's databases to be idle", () => noClientSessions(cluster, s.synapseDb, s.masDb));
    const release = await holdRecordTable(s);
    try {
      const run = startCli(["rollback", ...s.configArgs]);
      await waitFor(
        "the rollback to wait at its last step, its deletions done",
        async () =>
          (await clientSessions(cluster, s.masDb, `wait_event_type = 'Lock' AND query LIKE 'DROP TABLE syn2mas.migrations%'`))
            .length === 1,
        30_000,
      );
      run.child.kill("SIGKILL");
      const killed = await run.done;
      assert.equal(killed.signal, "SIGKILL");
    } finally {
      await release();
    }
    await waitFor("the killed rollback's session to end", () => noClientSessions(cluster, s.masDb, s.synapseDb));
    assert.deepEqual(await fingerprints(s), before_, "the killed rollback changed a database");
    assert.equal(await masUsers(s), FIXTURE_MAS_USERS);
    const result = await runCli(["rollback", ...s.configArgs]);
    assert.equal(result.code, 0, describeRun(result));
    assert.equal(withoutSequenceState(await cluster.dump(s.masDb)), withoutSequenceState(emptyMas));
  });

  it("Ctrl-C during the rollback: exit 130, saying MAS still holds the migration, unchanged", { timeout: 120_000 }, async () => {
    const { s } = await migrated("rollback_sigint");
    const before_ = await fingerprints(s);
    await waitFor("the scenario's databases to be idle", () => noClientSessions(cluster, s.synapseDb, s.masDb));
    const release = await holdRecordTable(s);
    let interrupted: CliResult;
    try {
      const run = startCli(["rollback", ...s.configArgs, "--json"]);
      await waitFor(
        "the rollback to wait for the record's table",
        async () => (await clientSessions(cluster, s.masDb, "wait_event_type = 'Lock'")).includes("syn2mas rollback (MAS)"),
        30_000,
      );
      run.child.kill("SIGINT");
      interrupted = await run.done;
    } finally {
      await release();
    }
    assert.equal(interrupted.code, 130, describeRun(interrupted));
    assert.equal(
      interrupted.stderr.trim().split("\n").at(-1),
      "syn2mas: interrupted (SIGINT): the rollback was undone: MAS still holds the migration, unchanged; run rollback again",
    );
    const json = JSON.parse(interrupted.stdout) as { command: string; status: string; migration: string };
    assert.deepEqual([json.command, json.status, json.migration], ["rollback", "interrupted", "rolled back"]);
    await waitFor("the interrupted rollback's session to end", () => noClientSessions(cluster, s.masDb, s.synapseDb));
    assert.deepEqual(await fingerprints(s), before_);
  });

  it("another run holding the migration lock: exit 1, one line; nothing changed", async () => {
    const { s } = await migrated("rollback_locked");
    const before_ = await fingerprints(s);
    const holder = new pg.Client({ connectionString: cluster.uri(s.masDb), application_name: "test-holder" });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY.toString()]);
      const result = await runCli(["rollback", ...s.configArgs]);
      assert.equal(result.code, 1, describeRun(result));
      assert.equal(
        result.stderr.trim(),
        "syn2mas: error: another syn2mas run (a migrate or a rollback) is writing to this MAS database right now " +
          "(fix: wait for it to finish, then run rollback again)",
      );
    } finally {
      await holder.end();
    }
    assert.deepEqual(await fingerprints(s), before_);
  });

  it("a Synapse on SQLite: read where it is, never written; MAS is the empty MAS again", async () => {
    const s = await prepareSqliteScenario(cluster, "rollback_sqlite", synapseSqliteDb, { synapseOverrides: GUESTS_OFF });
    const emptyMas = await cluster.dump(s.masDb);
    const files = snapshotFiles(synapseSqliteDb);
    const migrate = await runCli(["migrate", ...s.configArgs, "--accept-all-warnings"]);
    assert.equal(migrate.code, 0, describeRun(migrate));
    const result = await runCli(["rollback", ...s.configArgs, "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    const json = parse(result);
    assert.ok((json.removed.migrationTables.users ?? 0) > 0);
    assert.deepEqual(json.synapse.oauthDelegated, { count: 0, statement: DELETE_STATEMENT });
    assert.equal(withoutSequenceState(await cluster.dump(s.masDb)), withoutSequenceState(emptyMas));
    assert.deepEqual(snapshotFiles(synapseSqliteDb), files, "rollback changed the SQLite files");
  });

  it("a MAS holding users but no record of this tool is never touched: exit 1, one line", async () => {
    const s = await prepareScenario(cluster, "rollback_foreign", { synapseOverrides: GUESTS_OFF });
    await cluster.sql(
      s.masDb,
      "INSERT INTO users (user_id, username, created_at) VALUES ('01a2f000-0000-7000-8000-0000000000bb', 'someone', now())",
    );
    const before_ = await fingerprints(s);
    const result = await runCli(["rollback", ...s.configArgs, "--discard-mas-activity"]);
    assert.equal(result.code, 1, describeRun(result));
    assert.match(
      result.stderr,
      /^syn2mas: error: MAS holds 1 users but no record of a syn2mas migration: this tool did not write them .*\(fix: restore MAS's database from the backup/,
    );
    assert.equal(result.stderr.trim().split("\n").length, 1);
    assert.deepEqual(await fingerprints(s), before_);
  });
});
