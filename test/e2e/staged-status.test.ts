/**
 * `status` and `rollback` with the stage of an online migration (`prepare`), through the built CLI on
 * the PostgreSQL fixture: status says `prepared` with the stage's age (bounded by the clock around the
 * prepare) and its lag (0, then 1 new user after one is added to Synapse, 0 again after another
 * prepare); rollback drops the stage and nothing else (its dry run nothing at all), leaves no
 * replication slot on Synapse's side, and removes a stage left beside a migration with the migration.
 */
import type { StatusOutcome } from "../../src/pipeline/status.ts";
import { TABLE_ORDER } from "../../src/target/tables.ts";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeRun, waitFor } from "../harness/background.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { noClientSessions } from "../harness/sessions.ts";
import { TOOL_VERSION } from "../../src/model/version.ts";

/** Users the fixture migrates (50 Synapse users minus 3 application-service users). */
const FIXTURE_MAS_USERS = 47;
const STAGE = "syn2mas_stage";
const MAS_TABLES: readonly string[] = TABLE_ORDER;

interface Evidence {
  code: string;
  message: string;
  count?: number;
  examples?: string[];
}
interface StatusJson {
  state: string;
  migratedAt: string | null;
  evidence: Evidence[];
  next: string;
  stage: StatusOutcome["stage"];
}
interface RollbackJson {
  command: string;
  status: string;
  dryRun: boolean;
  exitCode: number;
  record: unknown;
  removed: { migrationTables: Record<string, number> } | null;
  stage: { schema: string; createdAt: string; updatedAt: string; version: string; counts: Record<string, number> } | null;
}

const NO_LAG = { newUsers: 0, newDevices: 0, newAccessTokens: 0, newRefreshTokens: 0 };

describe("status and rollback with a stage", { timeout: 600_000 }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => cluster?.stop());

  async function settle(s: Scenario): Promise<void> {
    await waitFor(`no session on ${s.synapseDb} and ${s.masDb}`, () => noClientSessions(cluster, s.synapseDb, s.masDb));
  }

  async function run(args: string[]): Promise<CliResult> {
    return runCli(args);
  }

  async function prepared(s: Scenario): Promise<void> {
    const result = await run(["prepare", ...s.configArgs]);
    assert.equal(result.code, 0, describeRun(result));
  }

  async function statusJson(s: Scenario): Promise<{ result: CliResult; json: StatusJson }> {
    const result = await run(["status", ...s.configArgs, "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    return { result, json: JSON.parse(result.stdout) as StatusJson };
  }

  async function meta(s: Scenario): Promise<{ created_ms: string; updated_ms: string }> {
    const rows = await cluster.sql<{ created_ms: string; updated_ms: string }>(
      s.masDb,
      `SELECT created_ms::text, updated_ms::text FROM ${STAGE}.meta`,
    );
    assert.equal(rows.length, 1);
    return rows[0] as { created_ms: string; updated_ms: string };
  }

  async function stageTables(s: Scenario): Promise<number> {
    const rows = await cluster.sql<{ n: number }>(
      s.masDb,
      "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
      [STAGE],
    );
    return rows[0]?.n ?? -1;
  }

  async function stageSchemas(s: Scenario): Promise<number> {
    const rows = await cluster.sql<{ n: number }>(s.masDb, "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1", [
      STAGE,
    ]);
    return rows[0]?.n ?? -1;
  }

  async function masRows(s: Scenario): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const t of MAS_TABLES) {
      const rows = await cluster.sql<{ n: number }>(s.masDb, `SELECT count(*)::int AS n FROM public.${t}`);
      counts[t] = rows[0]?.n ?? -1;
    }
    return counts;
  }

  async function replicationSlots(db: string): Promise<number> {
    const rows = await cluster.sql<{ n: number }>(db, "SELECT count(*)::int AS n FROM pg_replication_slots");
    return rows[0]?.n ?? -1;
  }

  it("status: prepared, with the stage's age and a lag of 0, then 1 new user, then 0 after another prepare", async () => {
    const s = await prepareScenario(cluster, "staged_status", { synapseOverrides: GUESTS_OFF });
    const beforePrepare = Date.now();
    await prepared(s);
    const afterPrepare = Date.now();
    const stored = await meta(s);

    const first = await statusJson(s);
    const readAt = Date.now();
    assert.equal(first.json.state, "prepared");
    assert.equal(first.json.migratedAt, null);
    const stage = first.json.stage;
    assert.ok(stage !== null, "status --json has the stage");
    assert.equal(Date.parse(stage.createdAt), Number(stored.created_ms), "createdAt is the stage's created_ms");
    assert.equal(Date.parse(stage.updatedAt), Number(stored.updated_ms), "updatedAt is the stage's updated_ms");
    assert.equal(stage.createdAt, stage.updatedAt, "one prepare: made and last brought up to date at once");
    const created = Date.parse(stage.createdAt);
    assert.ok(created >= beforePrepare && created <= afterPrepare, `created ${stage.createdAt} during the prepare`);
    // The age runs from the prepare's start to the status's read: bounded by the clock on either side.
    assert.ok(stage.ageSeconds >= Math.floor((afterPrepare - created) / 1000) - 1, `age ${stage.ageSeconds} s`);
    assert.ok(stage.ageSeconds <= Math.ceil((readAt - beforePrepare) / 1000), `age ${stage.ageSeconds} s`);
    assert.equal(stage.secondsSinceLastPrepare, stage.ageSeconds);
    assert.equal(stage.version, TOOL_VERSION);
    assert.equal(stage.counts["users"], FIXTURE_MAS_USERS);
    assert.deepEqual(stage.lag, NO_LAG);
    assert.deepEqual(
      first.json.evidence.map((e) => e.code),
      ["STAGE", "STAGE_LAG"],
    );
    assert.equal(first.json.evidence[1]?.count, 0);
    assert.match(first.json.evidence[0]?.message ?? "", new RegExp(`first prepared at ${stage.createdAt} \\(\\d+ s ago\\)`));
    assert.match(first.json.evidence[0]?.message ?? "", new RegExp(`${FIXTURE_MAS_USERS} users`));
    assert.match(first.json.next, /syn2mas prepare again/);
    const text = first.result.stderr.trimEnd().split("\n");
    assert.equal(text[0], "State: prepared");
    assert.ok(text.includes(`  - ${first.json.evidence[0]?.message}`), "the text shows the stage");
    assert.deepEqual(await masRows(s), Object.fromEntries(MAS_TABLES.map((t) => [t, 0])), "MAS's tables are empty");

    // Synapse gains one user after the prepare (a second later than every fixture user).
    await cluster.sql(
      s.synapseDb,
      `INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, suspended)
       VALUES ('@latecomer:example.com', NULL, (SELECT max(creation_ts) + 1 FROM users), 0, 0, 0, false, false)`,
    );
    const lagging = await statusJson(s);
    assert.equal(lagging.json.state, "prepared");
    assert.deepEqual(lagging.json.stage?.lag, { ...NO_LAG, newUsers: 1 });
    const gained = lagging.json.evidence.filter((e) => e.code === "SYNAPSE_NEW_USERS");
    assert.equal(gained.length, 1);
    assert.equal(gained[0]?.count, 1);
    assert.deepEqual(gained[0]?.examples, ["@latecomer:example.com"]);
    assert.equal(gained[0]?.message, "Synapse gained 1 users since the stage's last prepare (e.g. @latecomer:example.com).");
    assert.equal(lagging.json.evidence.filter((e) => e.code === "STAGE_LAG").length, 0);

    // Another prepare catches up: same stage, later updatedAt, no lag; the new user is staged.
    await prepared(s);
    const caughtUp = await statusJson(s);
    assert.equal(caughtUp.json.state, "prepared");
    assert.equal(caughtUp.json.stage?.createdAt, stage.createdAt, "the same stage");
    assert.ok(Date.parse(caughtUp.json.stage?.updatedAt ?? "") > created, "brought up to date later");
    assert.deepEqual(caughtUp.json.stage?.lag, NO_LAG);
    assert.equal(caughtUp.json.stage?.counts["users"], FIXTURE_MAS_USERS + 1);
  });

  it("rollback: the dry run changes nothing; then the stage is dropped, MAS's tables untouched, no slot", async () => {
    const s = await prepareScenario(cluster, "staged_rollback", { synapseOverrides: GUESTS_OFF });
    const untouched = await cluster.dump(s.masDb);
    await prepared(s);
    const stored = await meta(s);
    const tables = await stageTables(s);
    assert.ok(tables > MAS_TABLES.length, `the stage holds its tables (${tables} relations)`);
    const withStage = await cluster.dump(s.masDb);

    const dry = await run(["rollback", ...s.configArgs, "--dry-run", "--json"]);
    assert.equal(dry.code, 0, describeRun(dry));
    const dryJson = JSON.parse(dry.stdout) as RollbackJson;
    assert.equal(dryJson.status, "rolled_back");
    assert.equal(dryJson.dryRun, true);
    assert.equal(dryJson.record, null);
    assert.equal(dryJson.removed, null, "MAS's tables are not part of it");
    assert.equal(dryJson.stage?.schema, STAGE);
    assert.equal(Date.parse(dryJson.stage?.createdAt ?? ""), Number(stored.created_ms));
    assert.equal(dryJson.stage?.counts["users"], FIXTURE_MAS_USERS);
    assert.match(dry.stderr, /Removed \(then rolled back: --dry-run\): the schema syn2mas_stage/);
    assert.match(dry.stderr, /Dry run: .* the stage and MAS are unchanged\./);
    assert.equal(await cluster.dump(s.masDb), withStage, "the dry run changed MAS's database");
    assert.equal(await stageTables(s), tables);

    const real = await run(["rollback", ...s.configArgs, "--json"]);
    assert.equal(real.code, 0, describeRun(real));
    const realJson = JSON.parse(real.stdout) as RollbackJson;
    assert.equal(realJson.status, "rolled_back");
    assert.equal(realJson.dryRun, false);
    assert.equal(realJson.exitCode, 0);
    assert.equal(realJson.stage?.schema, STAGE);
    assert.match(real.stderr, /^Rollback: MAS holds no migration, only the stage of an online migration \(schema syn2mas_stage/);
    assert.match(real.stderr, /Removed: the schema syn2mas_stage with everything in it\. MAS's own tables were not touched\./);
    assert.equal(await stageSchemas(s), 0, "no schema syn2mas_stage");
    assert.equal(await stageTables(s), 0, "no relation left in syn2mas_stage");
    assert.deepEqual(await masRows(s), Object.fromEntries(MAS_TABLES.map((t) => [t, 0])));
    assert.equal(await cluster.dump(s.masDb), untouched, "MAS's database is as before the prepare");
    assert.equal(await replicationSlots(s.synapseDb), 0, "no replication slot holds Synapse's WAL");

    const status = await statusJson(s);
    assert.equal(status.json.state, "not_migrated");
    assert.equal(status.json.stage, null);

    const again = await run(["rollback", ...s.configArgs]);
    assert.equal(again.code, 1, describeRun(again));
    assert.match(again.stderr, /^syn2mas: error: MAS holds no syn2mas migration/);
  });

  it("rollback of a migration with a stage beside it removes both", async () => {
    const s = await prepareScenario(cluster, "staged_beside", { synapseOverrides: GUESTS_OFF });
    const untouched = await masRows(s);
    await prepared(s);
    const stored = await meta(s);
    // The stage set aside while a plain migration runs, then put back: a prepare run after the migration.
    await cluster.sql(s.masDb, `ALTER SCHEMA ${STAGE} RENAME TO stage_aside`);
    await settle(s);
    const migrate = await run(["migrate", ...s.configArgs]);
    assert.equal(migrate.code, 0, describeRun(migrate));
    await cluster.sql(s.masDb, `ALTER SCHEMA stage_aside RENAME TO ${STAGE}`);
    assert.equal((await masRows(s))["users"], FIXTURE_MAS_USERS);

    const status = await statusJson(s);
    assert.equal(status.json.state, "migrated");
    assert.deepEqual(
      status.json.evidence.filter((e) => e.code.startsWith("STAGE")).map((e) => e.code),
      ["STAGE", "STAGE_BESIDE"],
    );

    const rolled = await run(["rollback", ...s.configArgs, "--json"]);
    assert.equal(rolled.code, 0, describeRun(rolled));
    const json = JSON.parse(rolled.stdout) as RollbackJson;
    assert.equal(json.status, "rolled_back");
    assert.equal(json.removed?.migrationTables["users"], FIXTURE_MAS_USERS);
    assert.equal(Date.parse(json.stage?.createdAt ?? ""), Number(stored.created_ms));
    assert.match(rolled.stderr, /syn2mas_stage\s+dropped: the stage of an online migration/);
    assert.equal(await stageSchemas(s), 0, "no schema syn2mas_stage");
    assert.deepEqual(await masRows(s), untouched, "MAS's tables empty again");
    const records = await cluster.sql<{ n: number }>(
      s.masDb,
      "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'syn2mas'",
    );
    assert.equal(records[0]?.n, 0, "the migration's record schema is gone");
    assert.equal(await replicationSlots(s.synapseDb), 0);
  });
});
