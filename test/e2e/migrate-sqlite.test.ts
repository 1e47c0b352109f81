/**
 * A real Synapse 1.160 that ran on SQLite, migrated into MAS 1.22 straight from its database file:
 * every row checked as for PostgreSQL, the file (and its -wal and -shm) left byte for byte as it
 * was, check's counts equal to migrate's report; then copies in temporary directories for what
 * the fixture cannot show: edge rows, a Synapse still running (or crashed) on the file, a file
 * without -wal/-shm beside it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { loadSynapseManifest, synapseSqliteDb, synapseSqliteManifest, type SynapseManifest } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { copySqliteFixture, prepareSqliteScenario, readSqlite, snapshotFiles, writeSqlite } from "../harness/sqlite.ts";

const PEPPER = "peppery-pepper-123";
const KEYCLOAK = "0196636f-c55d-6141-75ce-263d2231eaaf";
const GITHUB = "01966371-d11c-2ec1-d3e8-55b61669b48c";
/** Guests, application-service users and puppets are reported, as on PostgreSQL: accepted here. */
const ACCEPT = ["--accept-all-warnings"];

type Row = Record<string, unknown>;
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

function ms(value: unknown): number | null {
  return value === null ? null : (value as Date).getTime();
}

function show(result: CliResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

function migrateJson(result: CliResult): { status: string; findings: Finding[]; report: Report | null } {
  return JSON.parse(result.stdout) as { status: string; findings: Finding[]; report: Report | null };
}

function checkJson(result: CliResult): { exitCode: number; findings: Finding[]; wouldSkip: Skipped | null } {
  return JSON.parse(result.stdout) as { exitCode: number; findings: Finding[]; wouldSkip: Skipped | null };
}

describe("migrating synapse-1.160-sqlite-small, read where it is, into MAS 1.22", () => {
  let cluster: Cluster;
  let scenario: Scenario;
  let manifest: SynapseManifest;
  let report: Report;
  let stderr: string;
  let wouldSkip: Skipped | null;
  let filesBefore: ReturnType<typeof snapshotFiles>;
  let filesAfter: ReturnType<typeof snapshotFiles>;
  const mas = (sql: string, params?: unknown[]) => cluster.sql<Row>(scenario.masDb, sql, params);
  const synapse = (sql: string) => readSqlite<Row>(synapseSqliteDb, sql);

  before(async () => {
    cluster = await startCluster();
    manifest = await loadSynapseManifest(synapseSqliteManifest);
    scenario = await prepareSqliteScenario(cluster, "sqlite_fixture", synapseSqliteDb, { synapseOverrides: GUESTS_OFF });
    filesBefore = snapshotFiles(synapseSqliteDb);
    const check = await runCli(["check", ...scenario.configArgs, "--json", ...ACCEPT]);
    assert.equal(check.code, 0, show(check));
    wouldSkip = checkJson(check).wouldSkip;
    const dry = await runCli(["migrate", ...scenario.configArgs, "--dry-run", "--json"]);
    assert.equal(dry.code, 0, show(dry));
    const result = await runCli(["migrate", ...scenario.configArgs, "--json"]);
    stderr = result.stderr;
    assert.equal(result.code, 0, show(result));
    report = migrateJson(result).report as Report;
    filesAfter = snapshotFiles(synapseSqliteDb);
  });
  after(async () => {
    await cluster?.stop();
  });

  it("leaves the database file, its -wal and its -shm byte for byte as they were, and creates nothing beside them", () => {
    assert.ok(filesBefore.sha256["synapse-1.160-sqlite-small.db"], "the fixture is there");
    assert.deepEqual(filesAfter, filesBefore);
  });

  it("writes every non-appservice user with its flags", async () => {
    const synapseUsers = await synapse("SELECT * FROM users ORDER BY name");
    const masUsers = new Map((await mas("SELECT * FROM users")).map((u) => [u.username as string, u]));
    assert.equal(synapseUsers.length, 28);
    assert.equal(masUsers.size, 25);
    for (const s of synapseUsers) {
      const localpart = (s.name as string).slice(1, (s.name as string).indexOf(":"));
      const m = masUsers.get(localpart);
      if (s.appservice_id !== null) {
        assert.equal(m, undefined, `appservice user ${localpart} must not be migrated`);
        continue;
      }
      assert.ok(m, `user ${localpart} migrated`);
      const created = Number(s.creation_ts) * 1000;
      assert.equal(ms(m.created_at), created);
      assert.equal(m.can_request_admin, s.admin === 1, `${localpart} admin`);
      assert.equal(m.is_guest, s.is_guest === 1);
      assert.equal(ms(m.locked_at), s.locked === 1 ? created : null, `${localpart} locked`);
      assert.equal(ms(m.deactivated_at), s.deactivated === 1 ? created : null);
      const flags = manifest.users[localpart];
      if (flags) {
        assert.equal(m.can_request_admin, flags.admin);
        assert.equal(m.locked_at !== null, flags.locked === true);
        assert.equal(m.deactivated_at !== null, flags.deactivated === true);
      }
    }
    assert.equal(masUsers.get("1")?.is_guest, true);
    assert.equal(masUsers.get("user0017")?.can_request_admin, true);
    assert.ok(masUsers.get("user0007")?.locked_at);
  });

  it("writes one password per non-empty hash, and every manifest password verifies as MAS scheme 1 does", async () => {
    const rows = await mas("SELECT u.username, p.hashed_password, p.version FROM user_passwords p JOIN users u USING (user_id)");
    const hashes = await synapse("SELECT name, password_hash FROM users WHERE password_hash IS NOT NULL AND password_hash <> ''");
    assert.equal(rows.length, hashes.length);
    assert.equal(rows.length, 18);
    const byUser = new Map(rows.map((r) => [r.username as string, r]));
    for (const h of hashes) {
      const row = byUser.get((h.name as string).slice(1, (h.name as string).indexOf(":")));
      assert.equal(row?.hashed_password, h.password_hash);
      assert.equal(row?.version, 1);
    }
    let verified = 0;
    for (const [localpart, user] of Object.entries(manifest.users)) {
      const row = byUser.get(localpart);
      if (user.password === null || user.deactivated) {
        assert.equal(row, undefined, `${localpart} has no password row`);
        continue;
      }
      assert.ok(row, `${localpart} has a password row`);
      assert.ok(await bcrypt.compare(user.password.normalize("NFKC") + PEPPER, row.hashed_password as string), `${localpart}'s password verifies`);
      verified++;
    }
    assert.equal(verified, 18);
  });

  it("writes every email and phone number on its user", async () => {
    const emails = await mas("SELECT u.username, e.email, e.created_at FROM user_emails e JOIN users u USING (user_id) ORDER BY email");
    const synapseEmails = await synapse("SELECT * FROM user_threepids WHERE medium = 'email' ORDER BY address");
    assert.equal(emails.length, 8);
    assert.deepEqual(
      emails.map((e) => [`@${e.username}:example.com`, e.email, ms(e.created_at)]),
      synapseEmails.map((s) => [s.user_id, s.address, s.added_at]),
    );
    for (const [localpart, user] of Object.entries(manifest.users)) {
      if (user.deactivated) continue;
      for (const t of user.threepids.filter((t) => t.medium === "email")) {
        assert.ok(emails.some((e) => e.username === localpart && e.email === t.address.toLowerCase()), `${localpart} keeps ${t.address}`);
      }
    }
    const phones = await mas("SELECT u.username, t.medium, t.address FROM user_unsupported_third_party_ids t JOIN users u USING (user_id)");
    assert.deepEqual(phones, [{ username: "user0011", medium: "msisdn", address: "447910000011" }]);
  });

  it("links every external id to the right MAS provider", async () => {
    const links = await mas(
      "SELECT u.username, l.upstream_oauth_provider_id::text AS provider, l.subject FROM upstream_oauth_links l JOIN users u USING (user_id)",
    );
    const expected = Object.entries(manifest.users).flatMap(([localpart, u]) => u.external.map((e) => ({ localpart, ...e })));
    assert.equal(links.length, (await synapse("SELECT * FROM user_external_ids")).length);
    assert.equal(links.length, 5);
    assert.ok(expected.length >= 3);
    for (const e of expected) {
      const link = links.find((l) => l.subject === e.external_id);
      assert.ok(link, `link for ${e.localpart}`);
      assert.equal(link.username, e.localpart);
      assert.equal(link.provider, e.auth_provider === "oidc-keycloak" ? KEYCLOAK : GITHUB);
    }
  });

  it("gives every visible device of a kept user a session with its details", async () => {
    const sessions = await mas(
      "SELECT u.username, s.*, host(s.last_active_ip) AS ip FROM compat_sessions s JOIN users u USING (user_id) WHERE device_id IS NOT NULL",
    );
    const devices = await synapse(
      `SELECT d.*, u.admin FROM devices d JOIN users u ON u.name = d.user_id
        WHERE u.appservice_id IS NULL AND u.is_guest = 0 AND u.deactivated = 0 AND d.hidden IS NOT TRUE`,
    );
    assert.equal(sessions.length, devices.length);
    assert.equal(sessions.length, 31);
    for (const d of devices) {
      const s = sessions.find((x) => `@${x.username}:example.com` === d.user_id && x.device_id === d.device_id);
      assert.ok(s, `session for ${d.user_id} ${d.device_id}`);
      assert.equal(s.human_name, d.display_name);
      assert.equal(s.user_agent, d.user_agent);
      assert.equal(ms(s.last_active_at), d.last_seen);
      assert.equal(s.ip, d.ip);
      assert.equal(s.is_synapse_admin, d.admin === 1);
      assert.equal(s.finished_at, null);
    }
    const admin = sessions.find((s) => s.device_id === "GCWVRTJFIF");
    assert.equal(admin?.is_synapse_admin, true);
    assert.equal(admin?.ip, "127.0.0.1");
    assert.equal(admin?.human_name, "Renamed GCWVRTJFIF ✓");
  });

  it("puts every kept access token on its device's session, with its expiry, and leaves the ended refresh pairs behind", async () => {
    const tokens = await mas(
      `SELECT t.access_token, t.expires_at, t.created_at, s.device_id, u.username, r.refresh_token,
              r.compat_session_id = s.compat_session_id AS refresh_same_session
         FROM compat_access_tokens t JOIN compat_sessions s USING (compat_session_id) JOIN users u USING (user_id)
         LEFT JOIN compat_refresh_tokens r ON r.compat_access_token_id = t.compat_access_token_id`,
    );
    const byToken = new Map(tokens.map((t) => [t.access_token as string, t]));
    const synapseTokens = new Map((await synapse("SELECT * FROM access_tokens")).map((t) => [t.token as string, t]));
    let kept = 0;
    for (const t of manifest.tokens) {
      const m = byToken.get(t.token);
      const s = synapseTokens.get(t.token);
      if (s === undefined) {
        assert.ok(t.revoked_by_deactivation || t.logged_out, `${t.user}'s token is only missing when revoked`);
        assert.equal(m, undefined);
        continue;
      }
      // The fixture's refresh tokens were made with a 24-hour lifetime: every pair has ended and stays behind
      // (ended-sessions.test.ts migrates live ones from a copy of this file).
      if (t.refresh_token) {
        assert.equal(m, undefined, `${t.user}'s ended pair on ${t.device} is not migrated`);
        continue;
      }
      assert.ok(m, `token of ${t.user} on ${t.device} migrated`);
      kept++;
      assert.equal(m.username, t.user);
      assert.equal(m.device_id, t.device);
      assert.equal(m.refresh_token, null);
      assert.equal(ms(m.expires_at), s.valid_until_ms);
      assert.equal(ms(m.created_at), s.last_validated);
    }
    assert.equal(kept, 31 - 11);
    for (const absent of [...manifest.puppets.map((p) => p.token), ...manifest.guests.map((g) => g.token)]) {
      assert.equal(byToken.has(absent), false, "puppet and guest tokens are not migrated");
    }
    assert.equal(tokens.length, 31 - 11);
    assert.equal(tokens.filter((t) => t.refresh_token !== null).length, 0);
  });

  it("skips application-service users, guests' devices, puppets and ended sessions with their reasons, as check said it would", () => {
    assert.equal(report.dryRun, false);
    assert.deepEqual(report.skipped, {
      users: { appservice_user: 3 },
      passwords: { no_password_hash: 7 },
      devices: { guest_user: 2, appservice_user: 3 },
      access_tokens: { appservice_user: 3, puppet_token: 2, ended_session: 11 },
      refresh_tokens: { ended_session: 11 },
    });
    assert.deepEqual(wouldSkip, report.skipped);
    assert.deepEqual(report.written, {
      users: 25,
      user_passwords: 18,
      user_emails: 8,
      user_unsupported_third_party_ids: 1,
      upstream_oauth_links: 5,
      compat_sessions: 31,
      compat_access_tokens: 31 - 11,
      compat_refresh_tokens: 0,
    });
    for (const secret of [PEPPER, "kc-secret", "gh-secret", ...manifest.tokens.map((t) => t.token)]) {
      assert.equal(stderr.includes(secret), false, "no secret in the output");
    }
  });
});

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
    assert.equal(check.code, 0, show(check));
    const result = await runCli(["migrate", ...s.configArgs, "--json"]);
    assert.equal(result.code, 0, show(result));
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
    assert.equal(result.code, 0, show(result));
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
      assert.equal(refused.code, 10, show(refused));
      const running = migrateJson(refused).findings.find((f) => f.code === "SYNAPSE_RUNNING");
      assert.equal(running?.severity, "error");
      assert.equal(running?.examples?.length, 1);
      assert.match(running?.examples?.[0] ?? "", new RegExp(`^pid ${child.pid} \\(.+\\)$`));
      assert.match(refused.stderr, /SQLite database is in use/);
      const check = await runCli(["check", ...s.configArgs, "--json", ...ACCEPT]);
      assert.equal(check.code, 0, show(check));
      const dry = await runCli(["migrate", ...s.configArgs, "--dry-run", "--json"]);
      assert.equal(dry.code, 0, show(dry));
      assert.equal(migrateJson(dry).report?.written.users, 25);
      assert.deepEqual(snapshotFiles(db), before, "read beside the running Synapse without writing its -wal, its -shm or the file");
      const forced = await runCli(["migrate", ...s.configArgs, "--ignore-synapse-running"]);
      assert.equal(forced.code, 0, show(forced));
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
    assert.equal(refused.code, 10, show(refused));
    const running = migrateJson(refused).findings.find((f) => f.code === "SYNAPSE_RUNNING");
    assert.match(running?.examples?.[0] ?? "", /bytes not yet written back in .*-wal$/);
    const dry = await runCli(["migrate", ...s.configArgs, "--dry-run", "--json"]);
    assert.equal(dry.code, 0, show(dry));
    assert.equal(migrateJson(dry).report?.written.users, 26, "the user only the -wal holds is read");
    assert.deepEqual(snapshotFiles(db), before);
  });

  it("--synapse-database-uri sqlite:///path reads that file instead of the configured database", async () => {
    const s = await prepareSqliteScenario(cluster, "sqlite_uri", "/nonexistent/elsewhere.db", { synapseOverrides: GUESTS_OFF });
    const uri = `sqlite://${synapseSqliteDb.split("/").map(encodeURIComponent).join("/")}`;
    const result = await runCli(["migrate", ...s.configArgs, "--dry-run", "--json", "--synapse-database-uri", uri]);
    assert.equal(result.code, 0, show(result));
    assert.equal(migrateJson(result).report?.written.users, 25);
    const missing = await runCli(["migrate", ...s.configArgs, "--dry-run"]);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /syn2mas: error: Synapse's SQLite database: cannot read \/nonexistent\/elsewhere\.db: no such file \(fix: .*database\.args\.database/);
  });
});
