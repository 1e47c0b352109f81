/**
 * MAS's schema history (issue 10, item 7) and MAS_NOT_EMPTY's count: a MAS database whose
 * `_sqlx_migrations` lost rows, or records a failed migration, is refused with MAS_SCHEMA_UNSUPPORTED
 * naming what is missing, by `check` and by `migrate` (which then writes nothing); the intact
 * fixtures of MAS 1.0.0 and 1.22.0 pass. MAS_NOT_EMPTY counts MAS's users.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { FindingJson } from "../../src/cli/render.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import type { MasVersion } from "../harness/fixtures.ts";

/** The warnings the clean fixture pair always has (accepted so that only the case under test counts). */
const BASELINE_WARNINGS = ["--accept-warning", "GUEST_USERS", "--accept-warning", "NON_EMAIL_THREEPIDS"];

function findings(result: CliResult): FindingJson[] {
  return (JSON.parse(result.stdout) as { findings: FindingJson[] }).findings;
}

function errors(result: CliResult): FindingJson[] {
  return findings(result).filter((f) => f.severity === "error");
}

describe("MAS schema history", () => {
  let cluster: Cluster;
  const scenario = (name: string, masVersion: MasVersion = "1.22.0") =>
    prepareScenario(cluster, name, { synapseOverrides: GUESTS_OFF, masVersion });
  const check = (s: Scenario) => runCli(["check", ...s.configArgs, "--json", ...BASELINE_WARNINGS]);

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => cluster?.stop());

  /** The one error of a refused `check`: MAS_SCHEMA_UNSUPPORTED. */
  async function refusedHistory(s: Scenario): Promise<FindingJson> {
    const result = await check(s);
    assert.equal(result.code, 10, result.stderr);
    const found = errors(result);
    assert.deepEqual(
      found.map((f) => f.code),
      ["MAS_SCHEMA_UNSUPPORTED"],
      result.stdout,
    );
    return found[0] as FindingJson;
  }

  for (const version of ["1.0.0", "1.22.0"] as const) {
    it(`the intact MAS ${version} fixture passes check and migrate`, async () => {
      const s = await scenario(`history_intact_${version}`, version);
      const checked = await check(s);
      assert.equal(checked.code, 0, checked.stdout);
      const migrated = await runCli(["migrate", ...s.configArgs]);
      assert.equal(migrated.code, 0, migrated.stderr);
    });
  }

  it("the newest row deleted (1.22.0): refused, naming that migration", async () => {
    const s = await scenario("history_newest");
    await cluster.sql(s.masDb, "DELETE FROM _sqlx_migrations WHERE version = 20260720134722");
    const f = await refusedHistory(s);
    assert.equal(f.count, 1);
    assert.deepEqual(f.examples, ["20260720134722 idx oauth2 authorization grants user session id"]);
    assert.match(f.message, /lacks 1 of the 167 migrations of MAS 1\.22\.0/);
    assert.match(f.message, /mas-cli database migrate/);
  });

  it("the newest row of MAS 1.0.0 deleted: refused, naming that migration", async () => {
    const s = await scenario("history_newest_1_0", "1.0.0");
    await cluster.sql(s.masDb, "DELETE FROM _sqlx_migrations WHERE version = 20250709142240");
    const f = await refusedHistory(s);
    assert.equal(f.count, 1);
    assert.deepEqual(f.examples, ["20250709142240 backfill id token claims"]);
    assert.match(f.message, /lacks 1 of the 120 migrations of MAS 1\.0\.0/);
  });

  it("two middle rows deleted: refused, naming both, oldest first; migrate writes nothing", async () => {
    const s = await scenario("history_middle");
    await cluster.sql(s.masDb, "DELETE FROM _sqlx_migrations WHERE version IN (20221121151402, 20250915092000)");
    const f = await refusedHistory(s);
    assert.equal(f.count, 2);
    assert.deepEqual(f.examples, ["20221121151402 upstream oauth", "20250915092000 pgtrgm extension"]);
    const before = await cluster.dump(s.masDb);
    const migrated = await runCli(["migrate", ...s.configArgs]);
    assert.equal(migrated.code, 10);
    assert.match(migrated.stderr, /MAS_SCHEMA_UNSUPPORTED/);
    assert.equal(await cluster.dump(s.masDb), before, "the refused run changed MAS's database");
  });

  it("every row deleted: refused as an empty history", async () => {
    const s = await scenario("history_empty");
    await cluster.sql(s.masDb, "DELETE FROM _sqlx_migrations");
    const f = await refusedHistory(s);
    assert.equal(f.count, 120, "the migrations of the oldest supported release, MAS 1.0.0");
    assert.equal(f.examples[0], "20220530084123 jobs workers");
    assert.match(f.message, /_sqlx_migrations is empty/);
  });

  it("a migration recorded as failed (success = false): refused, naming it", async () => {
    const s = await scenario("history_failed");
    await cluster.sql(s.masDb, "UPDATE _sqlx_migrations SET success = false WHERE version = 20251121145458");
    const f = await refusedHistory(s);
    assert.equal(f.count, 1);
    assert.deepEqual(f.examples, ["20251121145458 user registration upstream oauth session"]);
    assert.match(f.message, /failed \(success = false\)/);
  });

  it("MAS_NOT_EMPTY counts MAS's users and gives their usernames as examples", async () => {
    const s = await scenario("history_not_empty");
    await cluster.sql(
      s.masDb,
      `INSERT INTO users (user_id, username, created_at) VALUES
         ('01a20696-7b58-777f-3718-67e327323d7b', 'zoe', now()), ('01a20696-7b58-777f-3718-67e327323d7c', 'adam', now());
       INSERT INTO user_emails (user_email_id, user_id, email, created_at) VALUES
         ('01a20696-7b58-777f-3718-67e327323d7d', '01a20696-7b58-777f-3718-67e327323d7b', 'zoe@example.com', now()),
         ('01a20696-7b58-777f-3718-67e327323d7e', '01a20696-7b58-777f-3718-67e327323d7b', 'zoe2@example.com', now()),
         ('01a20696-7b58-777f-3718-67e327323d7f', '01a20696-7b58-777f-3718-67e327323d7c', 'adam@example.com', now())`,
    );
    const result = await check(s);
    assert.equal(result.code, 10);
    const [f] = errors(result);
    assert.equal(f?.code, "MAS_NOT_EMPTY");
    assert.equal(f?.count, 2);
    assert.deepEqual(f?.examples, ["adam", "zoe"]);
    assert.match(f?.message as string, /not empty: it has 2 users, and rows in users \(2 rows\), user_emails \(3 rows\)\./);
  });

  it("MAS_NOT_EMPTY without users: still an error, naming the table", async () => {
    const s = await scenario("history_not_empty_links");
    await cluster.sql(
      s.masDb,
      `INSERT INTO upstream_oauth_links (upstream_oauth_link_id, upstream_oauth_provider_id, subject, created_at)
       SELECT '01a20696-7b58-777f-3718-67e327323d80', upstream_oauth_provider_id, 'someone', now()
         FROM upstream_oauth_providers LIMIT 1`,
    );
    const result = await check(s);
    assert.equal(result.code, 10);
    const [f] = errors(result);
    assert.equal(f?.code, "MAS_NOT_EMPTY");
    assert.equal(f?.count, 0);
    assert.deepEqual(f?.examples, []);
    assert.match(f?.message as string, /it has 0 users, and rows in upstream_oauth_links \(1 rows\)\./);
  });
});
