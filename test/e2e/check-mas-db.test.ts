/** `check` and `migrate` on the MAS database's findings, and SYNAPSE_RUNNING: code, severity, count, exit code. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { MIGRATION_LOCK_KEY, NEWEST_TESTED_MAS_MIGRATION } from "../../src/target/probe.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import type { FindingJson as JsonFinding } from "../../src/cli/render.ts";

/** The warnings the clean fixture pair always has (accepted so that only the case under test counts). */
const BASELINE_WARNINGS = ["--accept-warning", "GUEST_USERS", "--accept-warning", "NON_EMAIL_THREEPIDS"];

function only(result: CliResult, code: string): JsonFinding {
  const findings = (JSON.parse(result.stdout) as { findings: JsonFinding[] }).findings.filter((f) => f.code === code);
  assert.equal(findings.length, 1, `${code} once in ${result.stdout}`);
  return findings[0] as JsonFinding;
}

describe("MAS database findings", () => {
  let cluster: Cluster;
  let clean: () => Promise<Scenario>;
  const check = (s: Scenario, ...extra: string[]) => runCli(["check", ...s.configArgs, "--json", ...BASELINE_WARNINGS, ...extra]);

  before(async () => {
    cluster = await startCluster();
    clean = () => prepareScenario(cluster, "masdb", { synapseOverrides: GUESTS_OFF });
  });
  after(async () => cluster?.stop());

  it("the clean pair checks with exit 0", async () => {
    const result = await check(await clean());
    assert.equal(result.code, 0, result.stderr);
  });

  it("MAS_SCHEMA_MISSING: an empty database", async () => {
    const s = await clean();
    await cluster.sql(s.masDb, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    const result = await check(s);
    assert.equal(result.code, 10);
    const f = only(result, "MAS_SCHEMA_MISSING");
    assert.equal(f.severity, "error");
    assert.match(f.message, /mas-cli database migrate/);
  });

  it("MAS_SCHEMA_UNSUPPORTED: two columns missing, named", async () => {
    const s = await clean();
    await cluster.sql(s.masDb, "ALTER TABLE compat_sessions DROP COLUMN user_agent; ALTER TABLE users DROP COLUMN is_guest");
    const result = await check(s);
    assert.equal(result.code, 10);
    const f = only(result, "MAS_SCHEMA_UNSUPPORTED");
    assert.equal(f.severity, "error");
    assert.equal(f.count, 2);
    assert.deepEqual(f.examples.sort(), ["compat_sessions.user_agent", "users.is_guest"]);
  });

  it("MAS_SCHEMA_NEWER: a newer migration is a warning, and migrate still runs", async () => {
    const s = await clean();
    await cluster.sql(
      s.masDb,
      `INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
       VALUES (${NEWEST_TESTED_MAS_MIGRATION + 1n}, 'from the future', true, '\\x00', 1)`,
    );
    const result = await check(s);
    assert.equal(result.code, 11);
    assert.equal(only(result, "MAS_SCHEMA_NEWER").severity, "warning");
    assert.equal((await check(s, "--accept-warning", "MAS_SCHEMA_NEWER")).code, 0);
    const migrated = await runCli(["migrate", ...s.configArgs]);
    assert.equal(migrated.code, 0, migrated.stderr);
  });

  it("MAS_NOT_EMPTY: names each table and its rows", async () => {
    const s = await clean();
    await cluster.sql(
      s.masDb,
      `INSERT INTO users (user_id, username, created_at) VALUES
         ('01a20696-7b58-777f-3718-67e327323d7b', 'someone', now()), ('01a20696-7b58-777f-3718-67e327323d7c', 'other', now())`,
    );
    const result = await check(s);
    assert.equal(result.code, 10);
    const f = only(result, "MAS_NOT_EMPTY");
    assert.equal(f.severity, "error");
    assert.equal(f.count, 2);
    assert.match(f.message, /users \(2 rows\)/);
  });

  it("MIGRATION_RUNNING: another session holds the migration lock", async () => {
    const s = await clean();
    const holder = new pg.Client({ connectionString: cluster.uri(s.masDb) });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY.toString()]);
      const result = await check(s);
      assert.equal(result.code, 10);
      assert.equal(only(result, "MIGRATION_RUNNING").severity, "error");
      const migrate = await runCli(["migrate", ...s.configArgs, "--dry-run"]);
      assert.equal(migrate.code, 10);
      assert.match(migrate.stderr, /MIGRATION_RUNNING/);
    } finally {
      await holder.end();
    }
    assert.equal((await check(s)).code, 0, "the lock is gone with the session");
  });

  it("PROVIDER_NOT_SYNCED: configured providers without rows", async () => {
    const s = await prepareScenario(cluster, "unsynced", { synapseOverrides: GUESTS_OFF, providers: false });
    const result = await check(s);
    assert.equal(result.code, 10);
    const findings = (JSON.parse(result.stdout) as { findings: JsonFinding[] }).findings.filter(
      (f) => f.code === "PROVIDER_NOT_SYNCED",
    );
    assert.deepEqual(findings.map((f) => [f.severity, f.examples[0], f.count]).sort(), [
      ["error", "oidc-github", 3],
      ["error", "oidc-keycloak", 9],
    ]);
  });

  it("SYNAPSE_RUNNING: a real migrate refuses while another session uses Synapse's database; a dry run and the flag do not", async () => {
    const s = await clean();
    const synapseSession = new pg.Client({ connectionString: cluster.uri(s.synapseDb), application_name: "synapse-main" });
    await synapseSession.connect();
    try {
      const refused = await runCli(["migrate", ...s.configArgs, "--json"]);
      assert.equal(refused.code, 10);
      const f = only(refused, "SYNAPSE_RUNNING");
      assert.equal(f.severity, "error");
      assert.equal(f.count, 1);
      assert.match(f.examples[0] as string, /^synapse-main \(postgres, pid \d+\)$/);
      assert.equal((await runCli(["check", ...s.configArgs, "--json", ...BASELINE_WARNINGS])).code, 0, "check does not look");
      assert.equal((await runCli(["migrate", ...s.configArgs, "--dry-run"])).code, 0, "a dry run does not look");
      const forced = await runCli(["migrate", ...s.configArgs, "--ignore-synapse-running"]);
      assert.equal(forced.code, 0, forced.stderr);
    } finally {
      await synapseSession.end();
    }
  });

  it("UNSUPPORTED_DATABASE: a database engine Synapse does not have, without connecting anywhere", async () => {
    const s = await prepareScenario(cluster, "unsupported-engine", {
      synapseOverrides: { ...GUESTS_OFF, database: { name: "mysql", args: { database: "/nonexistent/homeserver.db" } } },
    });
    const result = await check(s);
    assert.equal(result.code, 10);
    assert.equal(only(result, "UNSUPPORTED_DATABASE").severity, "error");
  });
});
