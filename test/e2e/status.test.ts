/**
 * `syn2mas status` through the CLI on the real fixtures: each of the five states reached, in text
 * and --json, with its evidence (the record's date, version and counts; the delegation key; MAS's
 * activity; Synapse's new user, device and token; MAS users this tool did not write), both
 * databases unchanged by it (fingerprints), and exit 1 with one line when a side cannot be read.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import { describeRun } from "../harness/background.ts";
import { synapseSqliteDb } from "../harness/fixtures.ts";
import { fingerprint } from "../harness/fingerprint.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { copySqliteFixture, prepareSqliteScenario, snapshotFiles, writeSqlite } from "../harness/sqlite.ts";
import { writeMasConfig, writeSynapseConfig } from "../harness/temp-config.ts";
import { TOOL_VERSION } from "../../src/model/version.ts";
import { MIGRATION_LOCK_KEY } from "../../src/target/probe.ts";

interface Evidence {
  code: string;
  message: string;
  count?: number;
  examples?: string[];
}
interface StatusJson {
  command: string;
  state: string;
  migratedAt: string | null;
  version: string | null;
  counts: Record<string, number> | null;
  activity: { since: string; total: number; kinds: Record<string, { count: number; examples: string[] }> } | null;
  evidence: Evidence[];
  next: string;
}

const SERVER = "example.com";

function parse(result: CliResult): StatusJson {
  assert.equal(result.code, 0, describeRun(result));
  return JSON.parse(result.stdout) as StatusJson;
}

function evidence(json: StatusJson, code: string): Evidence[] {
  return json.evidence.filter((e) => e.code === code);
}

/** The text's first line names the state; every evidence message and the next step follow. */
function assertText(result: CliResult, json: StatusJson): void {
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines[0], `State: ${json.state}`);
  for (const e of json.evidence) assert.ok(lines.includes(`  - ${e.message}`), `text shows: ${e.message}`);
  assert.equal(lines[lines.length - 1], `Next: ${json.next}`);
}

/** Runs status with --json and checks that neither database changed (PostgreSQL Synapse). */
async function statusOf(
  cluster: Cluster,
  synapseDb: string,
  masDb: string,
  args: string[],
): Promise<{ result: CliResult; json: StatusJson }> {
  const before_ = { mas: await fingerprint(cluster.uri(masDb)), synapse: await fingerprint(cluster.uri(synapseDb)) };
  const result = await runCli(["status", ...args, "--json"]);
  const after_ = { mas: await fingerprint(cluster.uri(masDb)), synapse: await fingerprint(cluster.uri(synapseDb)) };
  assert.equal(after_.mas, before_.mas, "MAS unchanged by status");
  assert.equal(after_.synapse, before_.synapse, "Synapse unchanged by status");
  const json = parse(result);
  assert.equal(json.command, "status");
  assertText(result, json);
  return { result, json };
}

/** `status` of the scenario's Synapse against `mas`, a changed copy of its MAS database (with a configuration of its own). */
async function statusOfMasCopy(
  cluster: Cluster,
  scenario: Scenario,
  mas: string,
): Promise<{ result: CliResult; json: StatusJson }> {
  const masConfig = await writeMasConfig(scratchDir("syn2mas-status-"), { uri: cluster.uri(mas) });
  return statusOf(cluster, scenario.synapseDb, mas, ["--config", masConfig, "--synapse-config", scenario.synapseConfig]);
}

describe("status on the PostgreSQL fixture", { timeout: 900_000 }, () => {
  let cluster: Cluster;
  let fresh: Scenario;
  let migrated: Scenario;
  let written: Record<string, number>;
  let copies = 0;

  before(async () => {
    cluster = await startCluster();
    fresh = await prepareScenario(cluster, "status_fresh", { synapseOverrides: GUESTS_OFF });
    migrated = await prepareScenario(cluster, "status_migrated", { synapseOverrides: GUESTS_OFF });
    const migrate = await runCli(["migrate", ...migrated.configArgs, "--json", "--accept-all-warnings"]);
    assert.equal(migrate.code, 0, describeRun(migrate));
    written = (JSON.parse(migrate.stdout) as { report: { written: Record<string, number> } }).report.written;
  });
  after(async () => cluster?.stop());

  /** A copy of a database, and a MAS configuration pointing at it when it is MAS's. */
  async function copyOf(db: string): Promise<string> {
    const copy = `${db}_c${++copies}`;
    await cluster.cloneDatabase(db, copy);
    return copy;
  }

  it("not_migrated: an empty MAS, nothing recorded", async () => {
    const { json } = await statusOf(cluster, fresh.synapseDb, fresh.masDb, fresh.configArgs);
    assert.equal(json.state, "not_migrated");
    assert.equal(json.migratedAt, null);
    assert.equal(json.version, null);
    assert.equal(json.counts, null);
    assert.equal(json.activity, null);
    assert.deepEqual(
      json.evidence.map((e) => e.code),
      ["MAS_EMPTY"],
    );
    assert.match(json.next, /syn2mas migrate/);
  });

  it("foreign: a MAS user inserted directly, no record", async () => {
    const mas = await copyOf(fresh.masDb);
    await cluster.sql(mas, "INSERT INTO users (user_id, username, created_at) VALUES (gen_random_uuid(), 'intruder', now())");
    const { json } = await statusOfMasCopy(cluster, fresh, mas);
    assert.equal(json.state, "foreign");
    const [foreign] = evidence(json, "MAS_FOREIGN_USERS");
    assert.equal(foreign?.count, 1);
    assert.deepEqual(foreign?.examples, [`@intruder:${SERVER}`]);
    assert.match(foreign?.message ?? "", /no record of a migration by this tool/);
    assert.match(json.next, /will not touch users it did not write/);
  });

  it("migrated: the record's date, version and counts; Synapse unchanged and not delegating", async () => {
    const { json } = await statusOf(cluster, migrated.synapseDb, migrated.masDb, migrated.configArgs);
    assert.equal(json.state, "migrated");
    const recorded = await cluster.sql<{ c: Date }>(migrated.masDb, "SELECT committed_at AS c FROM syn2mas.migrations");
    assert.equal(json.migratedAt, recorded[0]?.c.toISOString());
    assert.equal(json.version, TOOL_VERSION);
    assert.deepEqual(json.counts, written);
    assert.ok((json.counts?.["users"] ?? 0) > 0);
    assert.deepEqual(json.activity, { since: json.migratedAt, total: 0, kinds: {} });
    assert.deepEqual(
      json.evidence.map((e) => e.code),
      ["MIGRATION_RECORD", "NO_DELEGATION", "MAS_ACTIVITY"],
    );
    assert.ok(evidence(json, "MIGRATION_RECORD")[0]?.message.includes(`(${written["users"]} users,`));
    assert.match(json.next, /syn2mas verify/);
  });

  it("the record keeps Synapse's marks from the migration's snapshot", async () => {
    const [marks] = await cluster.sql<{ m: Record<string, number> }>(
      migrated.masDb,
      "SELECT synapse_marks AS m FROM syn2mas.migrations",
    );
    const [users] = await cluster.sql<{ n: string; ts: string }>(
      migrated.synapseDb,
      "SELECT count(*) AS n, max(creation_ts) AS ts FROM users",
    );
    const [devices] = await cluster.sql<{ n: string }>(migrated.synapseDb, "SELECT count(*) AS n FROM devices");
    const [access] = await cluster.sql<{ id: string }>(migrated.synapseDb, "SELECT max(id) AS id FROM access_tokens");
    const [refresh] = await cluster.sql<{ id: string }>(migrated.synapseDb, "SELECT max(id) AS id FROM refresh_tokens");
    assert.deepEqual(marks?.m, {
      users: Number(users?.n),
      maxUserCreationTs: Number(users?.ts),
      devices: Number(devices?.n),
      maxAccessTokenId: Number(access?.id),
      maxRefreshTokenId: Number(refresh?.id),
    });
  });

  it("foreign: a user dated before the migration, beside the migrated ones", async () => {
    const mas = await copyOf(migrated.masDb);
    await cluster.sql(
      mas,
      "INSERT INTO users (user_id, username, created_at) VALUES (gen_random_uuid(), 'backdated', '2001-01-01T00:00:00Z')",
    );
    const { json } = await statusOfMasCopy(cluster, migrated, mas);
    assert.equal(json.state, "foreign");
    const [foreign] = evidence(json, "MAS_FOREIGN_USERS");
    assert.equal(foreign?.count, 1);
    assert.match(foreign?.message ?? "", new RegExp(`holds ${(written["users"] ?? 0) + 1} users dated before`));
  });

  it("diverged: Synapse gained a user, a device and a token after the migration", async () => {
    const synapse = await copyOf(migrated.synapseDb);
    await cluster.sql(
      synapse,
      "INSERT INTO users (name, creation_ts) VALUES ('@latecomer:example.com', extract(epoch from now())::bigint + 60)",
    );
    await cluster.sql(
      synapse,
      `INSERT INTO devices (user_id, device_id, last_seen) VALUES ('@latecomer:example.com', 'LATEDEVICE', (extract(epoch from now()) * 1000)::bigint + 60000)`,
    );
    await cluster.sql(
      synapse,
      `INSERT INTO access_tokens (id, user_id, device_id, token)
       SELECT max(id) + 1, '@latecomer:example.com', 'LATEDEVICE', 'syt_not_a_real_token' FROM access_tokens`,
    );
    const synapseConfig = await writeSynapseConfig(scratchDir("syn2mas-status-"), {
      databaseUri: cluster.uri(synapse),
      overrides: GUESTS_OFF,
    });
    const { result, json } = await statusOf(cluster, synapse, migrated.masDb, [
      "--config",
      migrated.masConfig,
      "--synapse-config",
      synapseConfig,
    ]);
    assert.equal(json.state, "diverged");
    assert.deepEqual(evidence(json, "SYNAPSE_NEW_USERS")[0], {
      code: "SYNAPSE_NEW_USERS",
      message: "Synapse gained 1 users after the migration (e.g. @latecomer:example.com).",
      count: 1,
      examples: ["@latecomer:example.com"],
    });
    assert.equal(evidence(json, "SYNAPSE_NEW_DEVICES")[0]?.count, 1);
    assert.deepEqual(evidence(json, "SYNAPSE_NEW_TOKENS")[0]?.examples, ["@latecomer:example.com"]);
    assert.equal(evidence(json, "SYNAPSE_NEW_TOKENS")[0]?.count, 1);
    assert.deepEqual(evidence(json, "SYNAPSE_SERVED")[0]?.examples, ["@latecomer:example.com LATEDEVICE"]);
    assert.match(json.next, /syn2mas rollback.*migrate again/);
    assert.ok(
      !result.stdout.includes("syt_not_a_real_token") && !result.stderr.includes("syt_not_a_real_token"),
      "no token shown",
    );
  });

  it("delegated: the configuration config generate writes for Synapse, and a MAS session created after the commit", async () => {
    const mas = await copyOf(migrated.masDb);
    await cluster.sql(
      mas,
      `INSERT INTO compat_sessions (compat_session_id, user_id, device_id, created_at)
       SELECT gen_random_uuid(), user_id, 'MASDEVICE', now() FROM users WHERE username = (SELECT min(username) FROM users)`,
    );
    const [first] = await cluster.sql<{ u: string }>(mas, "SELECT min(username) AS u FROM users");
    const dir = scratchDir("syn2mas-status-");
    const masConfig = await writeMasConfig(dir, { uri: cluster.uri(mas) });
    const synapseAfter = join(dir, "homeserver-after.yaml");
    const generate = await runCli([
      "config",
      "generate",
      "--synapse-config",
      migrated.synapseConfig,
      "--output",
      join(dir, "mas-generated.yaml"),
      "--synapse-output",
      synapseAfter,
    ]);
    assert.equal(generate.code, 0, describeRun(generate));
    const { json } = await statusOf(cluster, migrated.synapseDb, mas, ["--config", masConfig, "--synapse-config", synapseAfter]);
    assert.equal(json.state, "delegated");
    assert.equal(
      evidence(json, "DELEGATION")[0]?.message,
      "Synapse's configuration delegates authentication to MAS (matrix_authentication_service.enabled: true).",
    );
    assert.deepEqual(json.activity?.kinds, { compat_sessions_created: { count: 1, examples: [`@${first?.u}:${SERVER}`] } });
    assert.equal(json.activity?.total, 1);
    assert.deepEqual(evidence(json, "MAS_ACTIVITY")[0]?.examples, [`@${first?.u}:${SERVER}`]);
    assert.match(json.next, /migration is complete/);
  });

  it("a record of an older version (no synapse_marks column) still reads, and says what it cannot know", async () => {
    const mas = await copyOf(migrated.masDb);
    await cluster.sql(mas, "ALTER TABLE syn2mas.migrations DROP COLUMN synapse_marks");
    const { json } = await statusOfMasCopy(cluster, migrated, mas);
    assert.equal(json.state, "migrated");
    assert.equal(evidence(json, "NO_SYNAPSE_MARKS").length, 1);
  });

  it("exits 1 with one line when MAS cannot be reached (and with --json, the error object)", async () => {
    const masConfig = await writeMasConfig(scratchDir("syn2mas-status-"), { uri: cluster.uri("no_such_database") });
    const result = await runCli(["status", "--config", masConfig, "--synapse-config", migrated.synapseConfig, "--json"]);
    assert.equal(result.code, 1, describeRun(result));
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /^syn2mas: error: cannot connect to the MAS database .*\(fix: /);
    const json = JSON.parse(result.stdout) as { command: string; status: string; exitCode: number };
    assert.deepEqual([json.command, json.status, json.exitCode], ["status", "error", 1]);
  });

  it("says when a migration holds the lock on MAS right now", async () => {
    const holder = new pg.Client({ connectionString: cluster.uri(fresh.masDb) });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY.toString()]);
      const result = await runCli(["status", ...fresh.configArgs, "--json"]);
      const json = parse(result);
      assert.equal(json.state, "not_migrated");
      assert.deepEqual(
        json.evidence.map((e) => e.code),
        ["MAS_EMPTY", "MIGRATION_RUNNING"],
      );
    } finally {
      await holder.end();
    }
  });

  it("exits 1 with one line when MAS's configuration points at Synapse's database", async () => {
    const masConfig = await writeMasConfig(scratchDir("syn2mas-status-"), { uri: cluster.uri(migrated.synapseDb) });
    const result = await runCli(["status", "--config", masConfig, "--synapse-config", migrated.synapseConfig]);
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stderr, /^syn2mas: error: the MAS database is Synapse's database/);
    assert.equal(result.stderr.trimEnd().split("\n").length, 1);
  });
});

describe("status on the SQLite fixture", { timeout: 900_000 }, () => {
  let cluster: Cluster;
  let scenario: Scenario;
  let dbPath: string;

  before(async () => {
    cluster = await startCluster();
    const dir = scratchDir("syn2mas-status-sqlite-");
    dbPath = copySqliteFixture(synapseSqliteDb, dir);
    scenario = await prepareSqliteScenario(cluster, "status_sqlite", dbPath, { synapseOverrides: GUESTS_OFF });
    const migrate = await runCli(["migrate", ...scenario.configArgs, "--accept-all-warnings"]);
    assert.equal(migrate.code, 0, describeRun(migrate));
  });
  after(async () => cluster?.stop());

  async function sqliteStatus(): Promise<StatusJson> {
    const files = snapshotFiles(dbPath);
    const mas = await fingerprint(cluster.uri(scenario.masDb));
    const result = await runCli(["status", ...scenario.configArgs, "--json"]);
    assert.deepEqual(snapshotFiles(dbPath), files, "the SQLite files unchanged by status");
    assert.equal(await fingerprint(cluster.uri(scenario.masDb)), mas, "MAS unchanged by status");
    const json = parse(result);
    assertText(result, json);
    return json;
  }

  it("migrated", async () => {
    const json = await sqliteStatus();
    assert.equal(json.state, "migrated");
    assert.equal(json.version, TOOL_VERSION);
  });

  it("diverged after Synapse gained a user, a device and a token", async () => {
    const now = Math.floor(Date.now() / 1000) + 60;
    await writeSqlite(
      dbPath,
      `INSERT INTO users (name, creation_ts) VALUES ('@latecomer:example.com', ${now});
       INSERT INTO devices (user_id, device_id, last_seen) VALUES ('@latecomer:example.com', 'LATEDEVICE', ${now * 1000});
       INSERT INTO access_tokens (id, user_id, device_id, token)
         SELECT max(id) + 1, '@latecomer:example.com', 'LATEDEVICE', 'syt_not_a_real_token' FROM access_tokens;`,
    );
    const json = await sqliteStatus();
    assert.equal(json.state, "diverged");
    assert.deepEqual(evidence(json, "SYNAPSE_NEW_USERS")[0]?.examples, ["@latecomer:example.com"]);
    assert.equal(evidence(json, "SYNAPSE_NEW_DEVICES")[0]?.count, 1);
    assert.equal(evidence(json, "SYNAPSE_NEW_TOKENS")[0]?.count, 1);
    assert.deepEqual(evidence(json, "SYNAPSE_SERVED")[0]?.examples, ["@latecomer:example.com LATEDEVICE"]);
  });
});
