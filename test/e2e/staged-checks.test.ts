/**
 * What a staged delta checks, and when a stage is made again: a delta's checks of Synapse's rows
 * look at the users it reads again (the others passed when the stage was last brought up to
 * date), so rows written since the prepare that an offline migration would refuse still block the
 * cut-over; a MAS provider the stage's links point at must still exist; and a stage whose mark
 * Synapse's database cannot compare (a table rewritten) is made again from scratch.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeRun } from "../harness/background.ts";
import { FIXTURE_PROVIDER_IDS } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { EXIT_BLOCKED } from "../../src/cli/exit-codes.ts";

interface RunJson {
  exitCode: number;
  status: string;
  report: { stage?: { mode: "full" | "delta"; usersReread: number | null } } | null;
  findings: { code: string; severity: string; count?: number; message: string; examples?: string[] }[];
}

const json = (result: CliResult): RunJson => JSON.parse(result.stdout) as RunJson;

function ok(result: CliResult, what: string): RunJson {
  assert.equal(result.code, 0, `${what}: ${describeRun(result)}`);
  return json(result);
}

describe("online migration: a delta's checks, and a stage made again", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(() => cluster?.stop());

  const count = async (db: string, sql: string): Promise<number> =>
    Number((await cluster.sql<{ n: string }>(db, `SELECT count(*) AS n FROM ${sql}`))[0]?.n);
  const stageThere = async (s: Scenario): Promise<boolean> =>
    (await count(s.masDb, "pg_namespace WHERE nspname = 'syn2mas_stage'")) === 1;

  it("a foreign user id and an orphan row written after the prepare block the cut-over; removed, it goes through", async () => {
    const s = await prepareScenario(cluster, "delta_checks", { synapseOverrides: GUESTS_OFF });
    ok(await runCli(["prepare", ...s.configArgs, "--json"]), "prepare");
    await cluster.sql(
      s.synapseDb,
      `INSERT INTO devices (user_id, device_id, hidden) VALUES ('@someone:elsewhere.org', 'FOREIGNDEV', false);
       INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at)
         VALUES ('@ghost:example.com', 'email', 'ghost@example.com', 0, 0)`,
    );
    const blocked = await runCli(["migrate", ...s.configArgs, "--json"]);
    assert.equal(blocked.code, EXIT_BLOCKED, describeRun(blocked));
    const findings = json(blocked).findings;
    const foreign = findings.find((f) => f.code === "FOREIGN_USER_IDS");
    const orphans = findings.find((f) => f.code === "ORPHAN_ROWS");
    assert.equal(foreign?.severity, "error");
    assert.equal(foreign?.count, 1, "the one new row, found among the re-read users' rows");
    assert.deepEqual(foreign?.examples, ["@someone:elsewhere.org"]);
    assert.equal(orphans?.count, 1);
    assert.deepEqual(orphans?.examples, ["@ghost:example.com"]);
    assert.equal(await count(s.masDb, "users"), 0, "MAS's tables untouched");
    assert.ok(await stageThere(s), "the stage is kept");

    await cluster.sql(
      s.synapseDb,
      `DELETE FROM devices WHERE device_id = 'FOREIGNDEV'; DELETE FROM user_threepids WHERE user_id = '@ghost:example.com'`,
    );
    const cut = ok(await runCli(["migrate", ...s.configArgs, "--json"]), "cut-over once they are gone");
    assert.equal(cut.report?.stage?.mode, "delta");
    assert.ok(!cut.findings.some((f) => f.code === "FOREIGN_USER_IDS" || f.code === "ORPHAN_ROWS"));
    assert.equal(await count(s.masDb, "compat_sessions WHERE device_id = 'FOREIGNDEV'"), 0);
    const verified = await runCli(["verify", ...s.configArgs]);
    assert.equal(verified.code, 0, describeRun(verified));
  });

  it("a stage without foreign keys between its tables (an earlier syn2mas made it) is moved in with them all, valid", async () => {
    const s = await prepareScenario(cluster, "keyless_stage", { synapseOverrides: GUESTS_OFF });
    const keys = `SELECT r.relname || '.' || c.conname AS key, c.convalidated AS valid
                    FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
                   WHERE c.contype = 'f' AND r.relnamespace = current_schema()::regnamespace ORDER BY 1`;
    const before = await cluster.sql<{ key: string; valid: boolean }>(s.masDb, keys);
    ok(await runCli(["prepare", ...s.configArgs, "--json"]), "prepare");
    await cluster.sql(
      s.masDb,
      `DO $$ DECLARE k record; BEGIN
         FOR k IN SELECT c.conrelid::regclass AS t, c.conname FROM pg_constraint c
                   WHERE c.contype = 'f' AND c.connamespace = 'syn2mas_stage'::regnamespace LOOP
           EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', k.t, k.conname);
         END LOOP; END $$`,
    );
    assert.equal(await count(s.masDb, "pg_constraint WHERE connamespace = 'syn2mas_stage'::regnamespace AND contype = 'f'"), 0);
    await cluster.sql(s.synapseDb, "DELETE FROM devices WHERE device_id = (SELECT min(device_id) FROM devices)");
    const cut = ok(await runCli(["migrate", ...s.configArgs, "--json"]), "cut-over");
    assert.equal(cut.report?.stage?.mode, "delta");
    const after = await cluster.sql<{ key: string; valid: boolean }>(s.masDb, keys);
    assert.ok(before.length > 20 && before.every((k) => k.valid));
    assert.deepEqual(after, before, "every foreign key of MAS's schema, each valid");
    const verified = await runCli(["verify", ...s.configArgs]);
    assert.equal(verified.code, 0, describeRun(verified));
  });

  it("a MAS provider the stage's links point at, deleted after the prepare, blocks the cut-over", async () => {
    const s = await prepareScenario(cluster, "delta_provider", { synapseOverrides: GUESTS_OFF });
    // Devices never seen take each run's time: seen once, their linked users are not read again.
    await cluster.sql(
      s.synapseDb,
      "UPDATE devices SET last_seen = 1700000000000 WHERE last_seen IS NULL AND user_id IN (SELECT user_id FROM user_external_ids)",
    );
    ok(await runCli(["prepare", ...s.configArgs, "--json"]), "prepare");
    const ids = Object.values(FIXTURE_PROVIDER_IDS);
    for (const id of ids) {
      assert.ok((await count(s.masDb, `syn2mas_stage.upstream_oauth_links WHERE upstream_oauth_provider_id = '${id}'`)) > 0);
    }
    await cluster.sql(s.masDb, "DELETE FROM upstream_oauth_providers");
    const blocked = await runCli(["migrate", ...s.configArgs, "--json"]);
    assert.equal(blocked.code, EXIT_BLOCKED, describeRun(blocked));
    // Each named once, through the stage's links: no user read again has an external id.
    const notSynced = json(blocked)
      .findings.filter((f) => f.code === "PROVIDER_NOT_SYNCED")
      .map((f) => f.message.replace(/^The MAS provider (\w+) \(for (.*?)\).*$/, "$1 $2"))
      .sort();
    assert.deepEqual(notSynced, [
      "01JSHPZHAXC50QBKH67MH33TNF the stage's upstream links",
      "01JSHQ3M8W5V0X7T2NPRB6KD4C the stage's upstream links",
    ]);
    assert.equal(await count(s.masDb, "users"), 0, "MAS's tables untouched");
    assert.ok(await stageThere(s), "the stage is kept");
  });

  it("a table rewritten after the prepare (VACUUM FULL) makes the cut-over copy everything again", async () => {
    const s = await prepareScenario(cluster, "delta_rewritten", { synapseOverrides: GUESTS_OFF });
    ok(await runCli(["prepare", ...s.configArgs, "--json"]), "prepare");
    const again = ok(await runCli(["prepare", ...s.configArgs, "--json"]), "a second prepare");
    assert.equal(again.report?.stage?.mode, "delta", "nothing rewritten: a delta");
    await cluster.sql(s.synapseDb, "VACUUM FULL devices");
    const cut = ok(await runCli(["migrate", ...s.configArgs, "--json"]), "cut-over");
    assert.equal(cut.report?.stage?.mode, "full", "the mark names the devices table's old file: every row read again");
    assert.ok((await count(s.masDb, "compat_sessions")) > 0);
    const verified = await runCli(["verify", ...s.configArgs]);
    assert.equal(verified.code, 0, describeRun(verified));
  });
});
