/**
 * What only SQLite can show, on copies of the real Synapse 1.160 SQLite file in temporary directories: edge
 * rows, a Synapse still running (or crashed) on the file, a file without -wal/-shm beside it, a sqlite:// URI.
 * The fixture itself, migrated in place and every row checked, is in migrate-fixture.test.ts's engine loop.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { synapseSqliteDb } from "../harness/fixtures.ts";
import { describeRun } from "../harness/background.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, runCli, type CliResult } from "../harness/scenario.ts";
import { ms, type Row } from "../harness/rows.ts";
import { scratchDir } from "../harness/scratch.ts";
import { copySqliteFixture, prepareSqliteScenario, snapshotFiles, writeSqlite } from "../harness/sqlite.ts";

/** Guests, application-service users and puppets are reported, as on PostgreSQL: accepted here. */
const ACCEPT = ["--accept-all-warnings"];

type Skipped = Record<string, Record<string, number>>;

interface Report {
  dryRun: boolean;
  written: Record<string, number>;
  skipped: Skipped;
  notes: Record<string, Record<string, number>>;
}

interface Finding {
  code: string;
  severity: string;
  count?: number;
  examples?: string[];
}

function migrateJson(result: CliResult): { status: string; findings: Finding[]; report: Report | null } {
  return JSON.parse(result.stdout) as { status: string; findings: Finding[]; report: Report | null };
}

function checkJson(result: CliResult): { exitCode: number; findings: Finding[]; wouldSkip: Skipped | null } {
  return JSON.parse(result.stdout) as { exitCode: number; findings: Finding[]; wouldSkip: Skipped | null };
}

/** Rows the fixture lacks, in SQLite's own spelling (integers for booleans, NULLs where old rows have them). */
const EDGE_ROWS_SQL = `
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked) VALUES
  ('@Upper.Case:example.com', NULL, 1795406000, 0, 0, 0, 0),
  ('@nullflags:example.com', '', NULL, 0, 0, 0, 0);
INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden) VALUES
  ('@user0010:example.com', 'master signing key', NULL, NULL, NULL, NULL, 1),
  ('@user0010:example.com', 'NULLHIDDEN', 'old client', 1795406000000, '-', 'old-ua', NULL),
  ('@user0015:example.com', 'BADIP', 'weird ip', 1795406000500, 'not-an-ip', 'ua2', 0),
  ('@user0015:example.com', 'SPACEIP', NULL, 1795406000600, ' 10.1.2.3 ', 'ua3', 0);
INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
  (1001, '@user0010:example.com', 'master signing key', 'syt_edge_hidden', NULL, NULL, 1795406000001, NULL, 0),
  (1002, '@user0017:example.com', NULL, 'syt_edge_deviceless', 1795500000000, NULL, 1795406000002, NULL, NULL),
  (1003, '@user0019:example.com', 'NOSUCHDEVICE', 'syt_edge_missing_device', NULL, NULL, 1795406000003, NULL, 0),
  (1006, '@user0018:example.com', 'BWMDYRUPRB', 'MDAxmacaroon', NULL, NULL, 1795406000004, NULL, 0);
-- user0019 rotated its refresh token and used the new access token: the old pair is dead.
INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id) VALUES
  (1019, '@user0019:example.com', 'SNGMDXCVVO', 'syr_edge_old', NULL),
  (1020, '@user0019:example.com', 'SNGMDXCVVO', 'syr_edge_rotated_used', NULL),
  (1030, '@user0020:example.com', 'TPFZHFMRJE', 'syr_edge_unpaired', NULL);
INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
  (1004, '@user0019:example.com', 'SNGMDXCVVO', 'syt_edge_old', 1795500000000, NULL, 1795406999990, 1019, 1),
  (1005, '@user0019:example.com', 'SNGMDXCVVO', 'syt_edge_rotated_used', 1795500000000, NULL, 1795406999999, 1020, 1);
UPDATE refresh_tokens SET next_token_id = 1020 WHERE id = 1019;
INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden) VALUES
  ('@user0020:example.com', 'has space', NULL, NULL, NULL, NULL, 0);
`;

describe("SQLite copies in a temporary directory", () => {
  let cluster: Cluster;
  const children = new Set<ChildProcess>();
  const tempDir = (name: string): string => scratchDir(`syn2mas-sqlite-${name}-`);

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    await cluster?.stop();
  });

  it("edge rows: NULL and integer booleans, hidden devices, rotations, odd IPs and ids decode as on PostgreSQL, and check counts what migrate skips", async () => {
    const db = copySqliteFixture(synapseSqliteDb, tempDir("edges"));
    await writeSqlite(db, EDGE_ROWS_SQL);
    const s = await prepareSqliteScenario(cluster, "sqlite_edges", db, { synapseOverrides: GUESTS_OFF });
    const before = snapshotFiles(db);
    const check = await runCli(["check", ...s.configArgs, "--json", ...ACCEPT]);
    assert.equal(check.code, 0, describeRun(check));
    const result = await runCli(["migrate", ...s.configArgs, "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.deepEqual(snapshotFiles(db), before, "the copy is unchanged too");
    const { report, findings } = migrateJson(result);
    assert.ok(report);
    assert.deepEqual(checkJson(check).wouldSkip, report.skipped);
    assert.deepEqual(report.skipped.devices, { guest_user: 2, appservice_user: 3, hidden_device: 1 });
    // The fixture's own pairs have all ended; the edge rows' refresh tokens never expire.
    assert.deepEqual(report.skipped.access_tokens, {
      appservice_user: 3,
      puppet_token: 2,
      hidden_device: 1,
      superseded_refresh_pair: 1,
      missing_device: 1,
      ended_session: 11,
    });
    assert.deepEqual(report.skipped.refresh_tokens, { superseded_refresh_pair: 1, no_access_token: 1, ended_session: 11 });
    assert.deepEqual(report.notes.devices, { unparsable_ip_stored_as_null: 1 });
    const byCode = new Map(findings.map((f) => [f.code, f]));
    assert.deepEqual(byCode.get("UNPARSABLE_DEVICE_IPS")?.examples, ["BADIP"]);
    assert.deepEqual(byCode.get("UNUSUAL_LOCALPARTS")?.examples, ["@Upper.Case:example.com"]);
    assert.deepEqual(byCode.get("UNENCODABLE_DEVICE_IDS")?.examples, ["has space"]);
    assert.deepEqual(byCode.get("MACAROON_TOKENS")?.count, 1);
    assert.deepEqual(byCode.get("DEVICELESS_TOKENS")?.examples, ["@user0017:example.com"]);
    assert.deepEqual(byCode.get("NULL_CREATION_TS")?.examples, ["@nullflags:example.com"]);

    const sessions = await cluster.sql<Row>(
      s.masDb,
      "SELECT device_id, host(last_active_ip) AS ip, created_at FROM compat_sessions WHERE device_id IN ('NULLHIDDEN', 'BADIP', 'SPACEIP')",
    );
    const byDevice = new Map(sessions.map((r) => [r.device_id as string, r]));
    assert.equal(ms(byDevice.get("NULLHIDDEN")?.created_at), 1795406000000, "hidden = NULL is visible");
    assert.equal(byDevice.get("BADIP")?.ip, null);
    assert.equal(byDevice.get("SPACEIP")?.ip, "10.1.2.3");
    const rotated = await cluster.sql<Row>(
      s.masDb,
      `SELECT t.access_token, r.refresh_token FROM compat_access_tokens t
         LEFT JOIN compat_refresh_tokens r ON r.compat_access_token_id = t.compat_access_token_id
        WHERE t.access_token LIKE 'syt_edge_%' ORDER BY 1`,
    );
    assert.deepEqual(rotated, [
      { access_token: "syt_edge_deviceless", refresh_token: null },
      { access_token: "syt_edge_rotated_used", refresh_token: "syr_edge_rotated_used" },
    ]);
  });

  it("a file without -wal and -shm (Synapse stopped cleanly) is read without creating them", async () => {
    const db = copySqliteFixture(synapseSqliteDb, tempDir("clean"));
    const s = await prepareSqliteScenario(cluster, "sqlite_clean", db, { synapseOverrides: GUESTS_OFF });
    const before = snapshotFiles(db);
    assert.deepEqual(before.directory, ["synapse-1.160-sqlite-small.db"]);
    const result = await runCli(["migrate", ...s.configArgs, "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    assert.equal(migrateJson(result).report?.written.users, 25);
    assert.deepEqual(snapshotFiles(db), before);
  });

  /** Starts a process that opens `db` read-write in WAL mode, runs `sql`, and stays (or is killed, when told so). */
  async function holder(db: string, sql: string): Promise<ChildProcess> {
    const script = join(tempDir("holder"), "holder.cjs");
    writeFileSync(
      script,
      `const sqlite3 = require(${JSON.stringify(new URL("../../node_modules/sqlite3", import.meta.url).pathname)});
       const db = new sqlite3.Database(process.argv[2], () => {
         db.exec(process.argv[3], (error) => { if (error) { console.error(error.message); process.exit(2); } console.log("ready"); });
       });
       setInterval(() => undefined, 1000);`,
    );
    const child = spawn(process.execPath, [script, db, sql], { stdio: ["ignore", "pipe", "inherit"] });
    children.add(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (d: Buffer) => (String(d).includes("ready") ? resolve() : undefined));
      child.on("exit", (code) => reject(new Error(`holder exited ${code}`)));
    });
    return child;
  }

  it("a Synapse with the file open blocks a real run with SYNAPSE_RUNNING, not check or a dry run; the files stay as they are", async () => {
    const db = copySqliteFixture(synapseSqliteDb, tempDir("running"));
    const s = await prepareSqliteScenario(cluster, "sqlite_running", db, { synapseOverrides: GUESTS_OFF });
    const child = await holder(db, "PRAGMA journal_mode = WAL; SELECT count(*) FROM users;");
    try {
      const before = snapshotFiles(db);
      assert.ok(before.directory.includes("synapse-1.160-sqlite-small.db-shm"), "the running Synapse has its -shm");
      const refused = await runCli(["migrate", ...s.configArgs, "--json", ...ACCEPT]);
      assert.equal(refused.code, 10, describeRun(refused));
      const running = migrateJson(refused).findings.find((f) => f.code === "SYNAPSE_RUNNING");
      assert.equal(running?.severity, "error");
      assert.equal(running?.examples?.length, 1);
      assert.match(running?.examples?.[0] ?? "", new RegExp(`^pid ${child.pid} \\(.+\\)$`));
      assert.match(refused.stderr, /SQLite database is in use/);
      const check = await runCli(["check", ...s.configArgs, "--json", ...ACCEPT]);
      assert.equal(check.code, 0, describeRun(check));
      const dry = await runCli(["migrate", ...s.configArgs, "--dry-run", "--json"]);
      assert.equal(dry.code, 0, describeRun(dry));
      assert.equal(migrateJson(dry).report?.written.users, 25);
      assert.deepEqual(
        snapshotFiles(db),
        before,
        "read beside the running Synapse without writing its -wal, its -shm or the file",
      );
      const forced = await runCli(["migrate", ...s.configArgs, "--ignore-synapse-running"]);
      assert.equal(forced.code, 0, describeRun(forced));
    } finally {
      child.kill("SIGKILL");
      children.delete(child);
    }
  });

  it("a Synapse that crashed with changes in its -wal: a real run is refused, a dry run reads those changes, nothing is written", async () => {
    const db = copySqliteFixture(synapseSqliteDb, tempDir("crashed"));
    const s = await prepareSqliteScenario(cluster, "sqlite_crashed", db, { synapseOverrides: GUESTS_OFF });
    const child = await holder(
      db,
      `PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
       INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked)
         VALUES ('@onlyinwal:example.com', NULL, 1795406000, 0, 0, 0, 0);`,
    );
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    children.delete(child);
    const before = snapshotFiles(db);
    assert.notEqual(before.sha256["synapse-1.160-sqlite-small.db-wal"], null);
    const refused = await runCli(["migrate", ...s.configArgs, "--json", ...ACCEPT]);
    assert.equal(refused.code, 10, describeRun(refused));
    const running = migrateJson(refused).findings.find((f) => f.code === "SYNAPSE_RUNNING");
    assert.match(running?.examples?.[0] ?? "", /bytes not yet written back in .*-wal$/);
    const dry = await runCli(["migrate", ...s.configArgs, "--dry-run", "--json"]);
    assert.equal(dry.code, 0, describeRun(dry));
    assert.equal(migrateJson(dry).report?.written.users, 26, "the user only the -wal holds is read");
    assert.deepEqual(snapshotFiles(db), before);
  });

  it("--synapse-database-uri sqlite:///path reads that file instead of the configured database", async () => {
    const s = await prepareSqliteScenario(cluster, "sqlite_uri", "/nonexistent/elsewhere.db", { synapseOverrides: GUESTS_OFF });
    const uri = `sqlite://${synapseSqliteDb.split("/").map(encodeURIComponent).join("/")}`;
    const result = await runCli(["migrate", ...s.configArgs, "--dry-run", "--json", "--synapse-database-uri", uri]);
    assert.equal(result.code, 0, describeRun(result));
    assert.equal(migrateJson(result).report?.written.users, 25);
    const missing = await runCli(["migrate", ...s.configArgs, "--dry-run"]);
    assert.equal(missing.code, 1, describeRun(missing));
    assert.match(
      missing.stderr,
      /syn2mas: error: Synapse's SQLite database: cannot read \/nonexistent\/elsewhere\.db: no such file \(fix: .*database\.args\.database/,
    );
  });
});
