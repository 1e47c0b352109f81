/**
 * One Synapse, two databases: the SQLite fixture, and the same file ported to PostgreSQL by
 * Synapse's own synapse_port_db. Migrated by the tool from each, MAS must end up with the same
 * rows (ids aside, which are random per run), and check must say the same things about both.
 * Both get the same live refresh-token expiries (the fixture's own ended a day after it was made),
 * so that refresh pairs are compared too.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { fingerprints } from "../../bench/run.ts";
import { synapseSqliteDb, synapseSqlitePortedSql } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { copySqliteFixture, prepareSqliteScenario, snapshotFiles, writeSqlite } from "../harness/sqlite.ts";
import { writeSynapseConfig } from "../harness/temp-config.ts";

/**
 * Every MAS table written, with each id replaced by what it stands for (the user's name, the
 * session's device, the token's value); provider ids come from the configuration and stay.
 */
const NATURAL_ROWS: Record<string, string> = {
  users: "SELECT username, created_at, locked_at, deactivated_at, can_request_admin, is_guest FROM users",
  user_passwords: `SELECT u.username, p.hashed_password, p.created_at, p.version, p.upgraded_from_id
    FROM user_passwords p JOIN users u USING (user_id)`,
  user_emails: "SELECT u.username, e.email, e.created_at FROM user_emails e JOIN users u USING (user_id)",
  user_unsupported_third_party_ids: `SELECT u.username, t.medium, t.address, t.created_at
    FROM user_unsupported_third_party_ids t JOIN users u USING (user_id)`,
  upstream_oauth_links: `SELECT u.username, l.upstream_oauth_provider_id, l.subject, l.created_at, l.human_account_name
    FROM upstream_oauth_links l JOIN users u USING (user_id)`,
  compat_sessions: `SELECT u.username, s.device_id, s.created_at, s.finished_at, s.is_synapse_admin, s.last_active_at,
      host(s.last_active_ip) AS ip, s.user_agent, s.human_name,
      (SELECT string_agg(t.access_token, ',' ORDER BY t.access_token) FROM compat_access_tokens t
        WHERE t.compat_session_id = s.compat_session_id) AS tokens
    FROM compat_sessions s JOIN users u USING (user_id)`,
  compat_access_tokens: `SELECT u.username, s.device_id, t.access_token, t.created_at, t.expires_at
    FROM compat_access_tokens t JOIN compat_sessions s USING (compat_session_id) JOIN users u USING (user_id)`,
  compat_refresh_tokens: `SELECT u.username, s.device_id, t.access_token, r.refresh_token, r.created_at
    FROM compat_refresh_tokens r JOIN compat_sessions s USING (compat_session_id)
    JOIN compat_access_tokens t USING (compat_access_token_id) JOIN users u ON u.user_id = s.user_id`,
};

interface Outcome {
  check: { exitCode: number; findings: unknown[]; wouldSkip: unknown };
  migrate: { status: string; findings: unknown[]; report: { written: unknown; skipped: unknown; notes: unknown } };
}

function parsed<T>(result: CliResult): T {
  assert.ok(result.code === 0, `exit ${result.code}\n${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

async function run(s: Scenario): Promise<Outcome> {
  const check = parsed<Outcome["check"]>(await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]));
  const migrate = parsed<Outcome["migrate"]>(await runCli(["migrate", ...s.configArgs, "--json"]));
  return { check, migrate };
}

describe("the same Synapse read from SQLite and from PostgreSQL (synapse_port_db) migrates to the same MAS rows", () => {
  let cluster: Cluster;
  let fromSqlite: Scenario;
  let fromPostgres: Scenario;
  let sqlite: Outcome;
  let postgres: Outcome;

  before(async () => {
    cluster = await startCluster();
    await cluster.createDatabase("syn_ported", { fromSqlFile: synapseSqlitePortedSql });
    const db = copySqliteFixture(synapseSqliteDb, scratchDir("syn2mas-sqlite-vs-pg-"));
    const live = `UPDATE refresh_tokens SET expiry_ts = ${Date.now() + 24 * 3_600_000}`;
    await writeSqlite(db, live);
    await cluster.sql("syn_ported", live);
    fromSqlite = await prepareSqliteScenario(cluster, "from_sqlite", db, { synapseOverrides: GUESTS_OFF });
    fromPostgres = await prepareScenario(cluster, "from_ported", { synapseOverrides: GUESTS_OFF });
    await writeSynapseConfig(fromPostgres.dir, { databaseUri: cluster.uri("syn_ported"), overrides: GUESTS_OFF });
    const files = snapshotFiles(db);
    sqlite = await run(fromSqlite);
    postgres = await run(fromPostgres);
    assert.deepEqual(snapshotFiles(db), files, "the SQLite file is unchanged");
  });
  after(async () => {
    await cluster?.stop();
    for (const s of [fromSqlite, fromPostgres]) if (s) rmSync(s.dir, { recursive: true, force: true });
  });

  it("check finds the same things and counts the same skips; only PostgreSQL allows an online migration", () => {
    const online = (o: Outcome) =>
      o.check.findings.find((f) => (f as { code: string }).code === "ONLINE_MIGRATION") as { message: string };
    assert.match(online(sqlite).message, /needs Synapse's database on PostgreSQL; this one is SQLite/);
    assert.match(online(postgres).message, /^An online migration is possible/);
    const besidesOnline = (o: Outcome) => ({
      ...o.check,
      findings: o.check.findings.filter((f) => (f as { code: string }).code !== "ONLINE_MIGRATION"),
    });
    assert.deepEqual(besidesOnline(sqlite), besidesOnline(postgres));
    assert.ok(sqlite.check.findings.length > 1);
  });

  it("migrate reports the same rows written, skipped and noted, with the same findings", () => {
    assert.equal(sqlite.migrate.status, "done");
    assert.deepEqual(sqlite.migrate.findings, postgres.migrate.findings);
    for (const key of ["written", "skipped", "notes"] as const) {
      assert.deepEqual(sqlite.migrate.report[key], postgres.migrate.report[key], key);
    }
    assert.deepEqual(sqlite.migrate.report.written, {
      users: 25,
      user_passwords: 18,
      user_emails: 8,
      user_unsupported_third_party_ids: 1,
      upstream_oauth_links: 5,
      compat_sessions: 31,
      compat_access_tokens: 31,
      compat_refresh_tokens: 11,
    });
  });

  it("every MAS table holds the same rows: the bench's per-table fingerprints of the non-id columns are equal", async () => {
    assert.deepEqual(await fingerprints(cluster, fromSqlite.masDb), await fingerprints(cluster, fromPostgres.masDb));
  });

  it("and so do the rows with every id replaced by what it stands for (whose, which device, which token)", async () => {
    for (const [table, sql] of Object.entries(NATURAL_ROWS)) {
      const ordered = `SELECT * FROM (${sql}) q ORDER BY q::text`;
      const [a, b] = await Promise.all([cluster.sql(fromSqlite.masDb, ordered), cluster.sql(fromPostgres.masDb, ordered)]);
      assert.ok(a.length > 0, `${table} has rows`);
      assert.deepEqual(a, b, table);
    }
  });
});
