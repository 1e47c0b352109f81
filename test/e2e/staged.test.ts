/**
 * The online migration on the fixture: `prepare` while Synapse "runs", each kind of change a
 * running Synapse makes, then the cut-over (`migrate` with a stage). MAS must then hold what the
 * changes say (row by row), `verify` must pass, and MAS must hold exactly what an offline
 * migration of the final Synapse holds. And a prepare while another connection writes to
 * Synapse stages one instant: whole users, in commit order, and the next prepare reads again
 * exactly those committed after it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { describeRun } from "../harness/background.ts";
import { FIXTURE_MAS_PROVIDERS } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { compareMasDatabases } from "../harness/mas-compare.ts";
import { besidesRunTimes, recordedRunTime } from "../harness/run-times.ts";

interface RunJson {
  exitCode: number;
  report: {
    written: Record<string, number>;
    stage?: { cutOver: boolean; mode: "full" | "delta"; usersReread: number | null };
  } | null;
  findings: { code: string }[];
}

function ok(result: CliResult, what: string): RunJson {
  assert.equal(result.code, 0, `${what}: ${describeRun(result)}`);
  return JSON.parse(result.stdout) as RunJson;
}

const BCRYPT_NEW = "$2b$12$" + "N".repeat(53);
const NOW = Date.now();

/** Each kind of change a running Synapse 1.160 makes, as it writes them; the users each touches. */
async function changeSynapse(cluster: Cluster, db: string): Promise<Record<string, string>> {
  const pick = async (sql: string): Promise<string> => {
    const rows = await cluster.sql<{ name: string }>(db, sql);
    assert.ok(rows[0], `a fixture user for: ${sql}`);
    return rows[0].name;
  };
  // Ordinary users with a password and at least two devices, none an admin, guest or service.
  const plain = `SELECT u.name FROM users u WHERE u.deactivated = 0 AND u.is_guest = 0 AND u.appservice_id IS NULL
    AND u.admin = 0 AND u.password_hash IS NOT NULL AND NOT u.locked
    AND (SELECT count(*) FROM devices d WHERE d.user_id = u.name) >= 2
    AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.user_id = u.name AND r.expiry_ts > ${NOW})`;
  const users: Record<string, string> = {};
  users.passwordChanged = await pick(`${plain} ORDER BY u.name LIMIT 1`);
  users.deactivated = await pick(`${plain} AND u.name > '${users.passwordChanged}' ORDER BY u.name LIMIT 1`);
  users.locked = await pick(`${plain} AND u.name > '${users.deactivated}' ORDER BY u.name LIMIT 1`);
  users.deviceDeleted = await pick(`${plain} AND u.name > '${users.locked}' ORDER BY u.name LIMIT 1`);
  users.deviceAdded = await pick(`${plain} AND u.name > '${users.deviceDeleted}' ORDER BY u.name LIMIT 1`);
  users.emailChanged = await pick(
    `${plain} AND EXISTS (SELECT 1 FROM user_threepids t WHERE t.user_id = u.name AND t.medium = 'email')
       AND u.name NOT IN ('${Object.values(users).join("','")}') ORDER BY u.name LIMIT 1`,
  );
  users.linked = await pick(
    `${plain} AND NOT EXISTS (SELECT 1 FROM user_external_ids e WHERE e.user_id = u.name)
       AND u.name NOT IN ('${Object.values(users).join("','")}') ORDER BY u.name DESC LIMIT 1`,
  );
  // The refresh pair made live before the first prepare (liveRefreshPair): the rotation leaves it behind.
  users.rotated = await pick(
    `SELECT r.user_id AS name FROM refresh_tokens r WHERE r.expiry_ts > ${NOW} AND r.next_token_id IS NULL ORDER BY r.id LIMIT 1`,
  );
  users.tokenRevoked = await pick(
    `SELECT a.user_id AS name FROM access_tokens a JOIN users u ON u.name = a.user_id
      WHERE u.deactivated = 0 AND u.is_guest = 0 AND u.appservice_id IS NULL AND a.refresh_token_id IS NULL
        AND a.puppets_user_id IS NULL AND a.device_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.user_id = u.name AND r.expiry_ts > ${NOW})
        AND a.user_id NOT IN ('${Object.values(users).join("','")}')
      ORDER BY a.id LIMIT 1`,
  );
  users.created = "@staged_new:example.com";

  const client = new pg.Client({ connectionString: cluster.uri(db) });
  await client.connect();
  try {
    await client.query("BEGIN");
    const nextId = async (table: string): Promise<number> =>
      Number((await client.query<{ n: string }>(`SELECT coalesce(max(id), 0) + 1 AS n FROM ${table}`)).rows[0]?.n);
    // A new user: password, email, a device with a token (registration).
    await client.query(
      `INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, shadow_banned, approved)
       VALUES ($1, $2, $3, 0, 0, 0, false, false, true)`,
      [users.created, BCRYPT_NEW, Math.floor(NOW / 1000)],
    );
    await client.query(
      "INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES ($1, 'email', 'staged-new@example.org', $2, $2)",
      [users.created, NOW],
    );
    await client.query(
      `INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden)
       VALUES ($1, 'NEWDEVICE', 'New phone', $2, '10.1.2.3', 'Element', false)`,
      [users.created, NOW],
    );
    await client.query(
      `INSERT INTO access_tokens (id, user_id, device_id, token, last_validated, used) VALUES ($1, $2, 'NEWDEVICE', 'syt_staged_new_token', $3, false)`,
      [await nextId("access_tokens"), users.created, NOW],
    );
    // A password change.
    await client.query("UPDATE users SET password_hash = $2 WHERE name = $1", [users.passwordChanged, BCRYPT_NEW]);
    // A deactivation, as Synapse's deactivate_account does it.
    await client.query("UPDATE users SET deactivated = 1, password_hash = NULL WHERE name = $1", [users.deactivated]);
    for (const table of ["access_tokens", "refresh_tokens", "devices", "user_threepids", "user_external_ids"]) {
      await client.query(`DELETE FROM ${table} WHERE user_id = $1`, [users.deactivated]);
    }
    // A lock.
    await client.query("UPDATE users SET locked = true WHERE name = $1", [users.locked]);
    // A deleted device, with its tokens.
    const gone = await client.query<{ device_id: string }>(
      "SELECT device_id FROM devices WHERE user_id = $1 ORDER BY device_id LIMIT 1",
      [users.deviceDeleted],
    );
    users.deletedDeviceId = gone.rows[0]?.device_id as string;
    await client.query("DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2", [
      users.deviceDeleted,
      users.deletedDeviceId,
    ]);
    await client.query("DELETE FROM refresh_tokens WHERE user_id = $1 AND device_id = $2", [
      users.deviceDeleted,
      users.deletedDeviceId,
    ]);
    await client.query("DELETE FROM devices WHERE user_id = $1 AND device_id = $2", [users.deviceDeleted, users.deletedDeviceId]);
    // A new device with a token (a login), and a second token on an existing device.
    await client.query(
      `INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden)
       VALUES ($1, 'LOGINDEVICE', 'Laptop', $2, '10.9.8.7', 'Element Desktop', false)`,
      [users.deviceAdded, NOW],
    );
    await client.query(
      `INSERT INTO access_tokens (id, user_id, device_id, token, last_validated, used) VALUES ($1, $2, 'LOGINDEVICE', 'syt_staged_login', $3, false)`,
      [await nextId("access_tokens"), users.deviceAdded, NOW],
    );
    const existing = await client.query<{ device_id: string }>(
      "SELECT device_id FROM devices WHERE user_id = $1 AND device_id <> 'LOGINDEVICE' ORDER BY device_id LIMIT 1",
      [users.deviceAdded],
    );
    await client.query(
      `INSERT INTO access_tokens (id, user_id, device_id, token, last_validated, used) VALUES ($1, $2, $3, 'syt_staged_second', $4, false)`,
      [await nextId("access_tokens"), users.deviceAdded, existing.rows[0]?.device_id, NOW],
    );
    // A revoked token (a logout of one token).
    const revoked = await client.query<{ token: string }>(
      "DELETE FROM access_tokens WHERE id = (SELECT min(id) FROM access_tokens WHERE user_id = $1 AND refresh_token_id IS NULL AND puppets_user_id IS NULL AND device_id IS NOT NULL) RETURNING token",
      [users.tokenRevoked],
    );
    users.revokedToken = revoked.rows[0]?.token as string;
    // A refresh: a new pair, the old refresh token pointing at it, the new access token used.
    const old = await client.query<{ id: string; device_id: string; token: string; access: string }>(
      `SELECT r.id, r.device_id, r.token, a.token AS access FROM refresh_tokens r JOIN access_tokens a ON a.refresh_token_id = r.id
        WHERE r.user_id = $1 AND r.next_token_id IS NULL AND r.expiry_ts > ${NOW} ORDER BY r.id LIMIT 1`,
      [users.rotated],
    );
    const previous = old.rows[0];
    assert.ok(previous);
    users.oldRefresh = previous.token;
    users.oldAccess = previous.access;
    const refreshId = await nextId("refresh_tokens");
    await client.query(
      `INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id, expiry_ts)
       VALUES ($1, $2, $3, 'syr_staged_rotated', NULL, $4)`,
      [refreshId, users.rotated, previous.device_id, NOW + 7 * 86_400_000],
    );
    await client.query("UPDATE refresh_tokens SET next_token_id = $2 WHERE id = $1", [previous.id, refreshId]);
    await client.query(
      `INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, last_validated, refresh_token_id, used)
       VALUES ($1, $2, $3, 'syt_staged_rotated', $4, $5, $6, true)`,
      [await nextId("access_tokens"), users.rotated, previous.device_id, NOW + 300_000, NOW, refreshId],
    );
    // A changed email: one removed, another added.
    await client.query("DELETE FROM user_threepids WHERE user_id = $1 AND medium = 'email'", [users.emailChanged]);
    await client.query(
      "INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES ($1, 'email', 'changed@example.org', $2, $2)",
      [users.emailChanged, NOW],
    );
    // A new link (a login through the github provider).
    await client.query(
      "INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ('oidc-github', 'gh-staged-1', $1)",
      [users.linked],
    );
    await client.query("COMMIT");
  } finally {
    await client.end();
  }
  return users;
}

/**
 * The fixture's refresh tokens have all expired by now: one is made live again (as a refresh a
 * week ago would have left it), so that the prepare stages a live pair the rotation then ends.
 */
async function liveRefreshPair(cluster: Cluster, db: string): Promise<void> {
  await cluster.sql(
    db,
    `UPDATE refresh_tokens SET expiry_ts = $1 WHERE id = (
       SELECT min(r.id) FROM refresh_tokens r JOIN access_tokens a ON a.refresh_token_id = r.id JOIN users u ON u.name = r.user_id
        WHERE r.next_token_id IS NULL AND u.deactivated = 0 AND u.is_guest = 0 AND u.appservice_id IS NULL AND a.puppets_user_id IS NULL)`,
    [NOW + 7 * 86_400_000],
  );
}

const localpart = (id: string): string => id.slice(1, id.indexOf(":"));

describe("online migration: prepare, changes, cut-over", () => {
  let cluster: Cluster;
  let s: Scenario;
  let users: Record<string, string>;
  let cutOver: RunJson;
  let stageKeys: { key: string; valid: boolean }[];

  before(async () => {
    cluster = await startCluster();
    s = await prepareScenario(cluster, "staged", { synapseOverrides: GUESTS_OFF });
    await liveRefreshPair(cluster, s.synapseDb);
    const first = ok(await runCli(["prepare", ...s.configArgs, "--json"]), "first prepare");
    assert.equal(first.report?.stage?.mode, "full");
    assert.equal(first.report?.stage?.cutOver, false);
    assert.equal(Number((await cluster.sql<{ n: string }>(s.masDb, "SELECT count(*) AS n FROM users"))[0]?.n), 0);
    const staged = await cluster.sql(
      s.masDb,
      "SELECT 1 FROM syn2mas_stage.compat_refresh_tokens r JOIN syn2mas_stage.compat_access_tokens USING (compat_access_token_id)",
    );
    assert.equal(staged.length, 1, "the live pair is staged");
    stageKeys = await cluster.sql<{ key: string; valid: boolean }>(
      s.masDb,
      `SELECT r.relname || '.' || c.conname AS key, c.convalidated AS valid FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
        WHERE c.contype = 'f' AND r.relnamespace = 'syn2mas_stage'::regnamespace ORDER BY 1`,
    );
    users = await changeSynapse(cluster, s.synapseDb);
    cutOver = ok(await runCli(["migrate", ...s.configArgs, "--json"]), "cut-over");
  });
  after(() => cluster?.stop());

  it("the cut-over read again only the changed users (and those whose rows carry the run's time)", async () => {
    assert.equal(cutOver.report?.stage?.mode, "delta");
    assert.equal(cutOver.report?.stage?.cutOver, true);
    const reread = cutOver.report?.stage?.usersReread ?? 0;
    const total = Number((await cluster.sql<{ n: string }>(s.synapseDb, "SELECT count(*) AS n FROM users"))[0]?.n);
    assert.ok(reread >= 10 && reread < total, `re-read ${reread} of ${total} users`);
    assert.equal(
      Number((await cluster.sql<{ n: string }>(s.masDb, "SELECT count(*) AS n FROM users"))[0]?.n),
      cutOver.report?.written.users,
    );
    const stage = await cluster.sql(s.masDb, "SELECT 1 FROM pg_namespace WHERE nspname = 'syn2mas_stage'");
    assert.equal(stage.length, 0, "the stage is gone once moved in");
  });

  it("MAS holds each change", async () => {
    const one = async <R extends Record<string, unknown>>(sql: string, params: unknown[]): Promise<R | undefined> =>
      (await cluster.sql<R>(s.masDb, sql, params))[0];
    const created = await one<{ hashed_password: string; email: string; device_id: string }>(
      `SELECT p.hashed_password, e.email, cs.device_id FROM users u JOIN user_passwords p USING (user_id)
         JOIN user_emails e USING (user_id) JOIN compat_sessions cs USING (user_id)
         JOIN compat_access_tokens t USING (compat_session_id)
        WHERE u.username = $1 AND t.access_token = 'syt_staged_new_token'`,
      [localpart(users.created as string)],
    );
    assert.deepEqual(created, { hashed_password: BCRYPT_NEW, email: "staged-new@example.org", device_id: "NEWDEVICE" });
    const password = await one<{ hashed_password: string }>(
      "SELECT hashed_password FROM user_passwords JOIN users USING (user_id) WHERE username = $1",
      [localpart(users.passwordChanged as string)],
    );
    assert.equal(password?.hashed_password, BCRYPT_NEW);
    const deactivated = await one<{ deactivated: boolean; sessions: string; passwords: string; emails: string }>(
      `SELECT deactivated_at IS NOT NULL AS deactivated,
              (SELECT count(*) FROM compat_sessions c WHERE c.user_id = u.user_id) AS sessions,
              (SELECT count(*) FROM user_passwords p WHERE p.user_id = u.user_id) AS passwords,
              (SELECT count(*) FROM user_emails e WHERE e.user_id = u.user_id) AS emails
         FROM users u WHERE username = $1`,
      [localpart(users.deactivated as string)],
    );
    assert.deepEqual(deactivated, { deactivated: true, sessions: "0", passwords: "0", emails: "0" });
    const locked = await one<{ locked: boolean }>("SELECT locked_at IS NOT NULL AS locked FROM users WHERE username = $1", [
      localpart(users.locked as string),
    ]);
    assert.equal(locked?.locked, true);
    const deletedDevice = await cluster.sql(
      s.masDb,
      "SELECT 1 FROM compat_sessions JOIN users USING (user_id) WHERE username = $1 AND device_id = $2",
      [localpart(users.deviceDeleted as string), users.deletedDeviceId],
    );
    assert.equal(deletedDevice.length, 0, "the deleted device's session is gone");
    const added = await cluster.sql<{ access_token: string }>(
      s.masDb,
      `SELECT t.access_token FROM compat_access_tokens t JOIN compat_sessions c USING (compat_session_id) JOIN users u USING (user_id)
        WHERE u.username = $1 AND t.access_token IN ('syt_staged_login', 'syt_staged_second') ORDER BY 1`,
      [localpart(users.deviceAdded as string)],
    );
    assert.deepEqual(
      added.map((r) => r.access_token),
      ["syt_staged_login", "syt_staged_second"],
    );
    assert.equal(
      (await cluster.sql(s.masDb, "SELECT 1 FROM compat_access_tokens WHERE access_token = $1", [users.revokedToken])).length,
      0,
      "the revoked token is gone",
    );
    const rotated = await cluster.sql<{ refresh_token: string; access_token: string }>(
      s.masDb,
      `SELECT r.refresh_token, a.access_token FROM compat_refresh_tokens r JOIN compat_access_tokens a USING (compat_access_token_id)
        WHERE r.refresh_token IN ($1, 'syr_staged_rotated')`,
      [users.oldRefresh],
    );
    assert.deepEqual(rotated, [{ refresh_token: "syr_staged_rotated", access_token: "syt_staged_rotated" }]);
    assert.equal(
      (await cluster.sql(s.masDb, "SELECT 1 FROM compat_access_tokens WHERE access_token = $1", [users.oldAccess])).length,
      0,
      "the superseded pair stays behind",
    );
    const emails = await cluster.sql<{ email: string }>(
      s.masDb,
      "SELECT email FROM user_emails JOIN users USING (user_id) WHERE username = $1",
      [localpart(users.emailChanged as string)],
    );
    assert.deepEqual(
      emails.map((e) => e.email),
      ["changed@example.org"],
    );
    const link = await cluster.sql<{ subject: string }>(
      s.masDb,
      "SELECT subject FROM upstream_oauth_links JOIN users USING (user_id) WHERE username = $1",
      [localpart(users.linked as string)],
    );
    assert.deepEqual(
      link.map((l) => l.subject),
      ["gh-staged-1"],
    );
  });

  it("the stage keeps MAS's foreign keys between its tables, valid, but for one no index serves", async () => {
    // Not kept: user_passwords.upgraded_from_id (a delta's deletes would scan every password per row),
    // and those to MAS's other tables (upstream_oauth_links' provider, compat_sessions' user session).
    assert.deepEqual(stageKeys, [
      { key: "compat_access_tokens.compat_access_tokens_compat_session_id_fkey", valid: true },
      { key: "compat_refresh_tokens.compat_refresh_tokens_compat_access_token_id_fkey", valid: true },
      { key: "compat_refresh_tokens.compat_refresh_tokens_compat_session_id_fkey", valid: true },
      { key: "compat_sessions.compat_sessions_user_id_fkey", valid: true },
      { key: "upstream_oauth_links.upstream_oauth_link_user_fkey", valid: true },
      { key: "user_emails.user_emails_user_id_fkey", valid: true },
      { key: "user_passwords.user_passwords_user_id_fkey", valid: true },
      { key: "user_unsupported_third_party_ids.user_unsupported_third_party_ids_user_id_fkey", valid: true },
    ]);
  });

  it("verify passes, and MAS's foreign keys are all validated", async () => {
    const verified = await runCli(["verify", ...s.configArgs]);
    assert.equal(verified.code, 0, describeRun(verified));
    const invalid = await cluster.sql(s.masDb, "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated");
    assert.deepEqual(invalid, []);
  });

  it("MAS holds exactly what an offline migration of the final Synapse holds (ids aside)", async () => {
    const offline = await prepareScenario(cluster, "offline", { synapseOverrides: GUESTS_OFF });
    await cluster.dropDatabase(offline.synapseDb);
    await cluster.cloneDatabase(s.synapseDb, offline.synapseDb);
    ok(await runCli(["migrate", ...offline.configArgs, "--json"]), "offline migration");
    const a = new pg.Client({ connectionString: cluster.uri(s.masDb) });
    const b = new pg.Client({ connectionString: cluster.uri(offline.masDb) });
    await a.connect();
    await b.connect();
    try {
      const differences = await compareMasDatabases(a, b, { cap: 10_000 });
      const runTimes = [await recordedRunTime(a), await recordedRunTime(b)] as const;
      assert.notEqual(runTimes[0], runTimes[1]);
      assert.deepEqual(besidesRunTimes(differences, ...runTimes), []);
      // Only the rows that carry their run's time differ: those the stage re-maps at every run.
      const timeDependent = differences.filter((d) => d.table === "compat_sessions").length;
      assert.equal(differences.length, timeDependent, "only sessions carry the run's time in the fixture");
    } finally {
      await a.end();
      await b.end();
    }
  });
});

describe("online migration: a stage made under other settings", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(() => cluster?.stop());

  it("is made again by the cut-over, whose result verifies under the new settings", async () => {
    const s = await prepareScenario(cluster, "resettled", { synapseOverrides: GUESTS_OFF });
    ok(await runCli(["prepare", ...s.configArgs, "--json"]), "prepare without --link");
    const link = ["--link", `localpart=${FIXTURE_MAS_PROVIDERS.github.id}:ldap|{localpart}`];
    const cut = ok(await runCli(["migrate", ...s.configArgs, ...link, "--json"]), "cut-over with --link");
    assert.equal(cut.report?.stage?.mode, "full", "another --link: every row read again");
    const links = await cluster.sql<{ n: string }>(
      s.masDb,
      "SELECT count(*) AS n FROM upstream_oauth_links WHERE subject LIKE 'ldap|%'",
    );
    assert.ok(Number(links[0]?.n) > 0, "the new rule's links are there");
    const verified = await runCli(["verify", ...s.configArgs, ...link]);
    assert.equal(verified.code, 0, describeRun(verified));
  });
});

describe("online migration: a prepare while Synapse is written to", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(() => cluster?.stop());

  it("stages one instant: whole users in commit order, and the next prepare reads again exactly the later ones", async () => {
    const s = await prepareScenario(cluster, "concurrent", { synapseOverrides: GUESTS_OFF });
    const writer = new pg.Client({ connectionString: cluster.uri(s.synapseDb) });
    await writer.connect();
    let written = 0;
    let stop = false;
    const baseId = Number(
      (await writer.query<{ n: string }>("SELECT coalesce(max(id), 0) + 1000 AS n FROM access_tokens")).rows[0]?.n,
    );
    // Each transaction: one user with a device and a token, numbered in commit order.
    const writing = (async () => {
      while (!stop) {
        const i = written + 1;
        const name = `@writer${String(i).padStart(5, "0")}:example.com`;
        await writer.query("BEGIN");
        await writer.query(
          `INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, shadow_banned, approved)
           VALUES ($1, $2, $3, 0, 0, 0, false, false, true)`,
          [name, BCRYPT_NEW, Math.floor(NOW / 1000)],
        );
        await writer.query(
          "INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden) VALUES ($1, 'W', 'w', $2, '10.0.0.1', 'w', false)",
          [name, NOW],
        );
        await writer.query(
          "INSERT INTO access_tokens (id, user_id, device_id, token, last_validated, used) VALUES ($1, $2, 'W', $3, $4, false)",
          [baseId + i, name, `syt_writer_${i}`, NOW],
        );
        await writer.query("COMMIT");
        written = i;
      }
    })();
    try {
      while (written < 20) await new Promise((r) => setTimeout(r, 10));
      ok(await runCli(["prepare", ...s.configArgs, "--json"]), "prepare beside a writer");
      while (written < 40) await new Promise((r) => setTimeout(r, 10));
    } finally {
      stop = true;
      await writing;
      await writer.end();
    }
    const staged = await cluster.sql<{ username: string; sessions: string; tokens: string }>(
      s.masDb,
      `SELECT u.username,
              (SELECT count(*) FROM syn2mas_stage.compat_sessions c WHERE c.user_id = u.user_id) AS sessions,
              (SELECT count(*) FROM syn2mas_stage.compat_access_tokens t JOIN syn2mas_stage.compat_sessions c USING (compat_session_id)
                WHERE c.user_id = u.user_id) AS tokens
         FROM syn2mas_stage.users u WHERE u.username LIKE 'writer%' ORDER BY u.username`,
    );
    const k = staged.length;
    assert.ok(k >= 20 && k < written, `staged ${k} of the ${written} users written`);
    staged.forEach((row, index) => {
      assert.equal(row.username, `writer${String(index + 1).padStart(5, "0")}`, "a prefix of the commit order, no gap");
      assert.deepEqual([row.sessions, row.tokens], ["1", "1"], `${row.username} is whole`);
    });
    const fingerprinted = await cluster.sql<{ n: string }>(
      s.masDb,
      "SELECT count(*) AS n FROM syn2mas_stage.synapse_users WHERE user_id LIKE '@writer%'",
    );
    assert.equal(Number(fingerprinted[0]?.n), k, "the fingerprints are of the same instant as the rows");
    const next = ok(await runCli(["prepare", ...s.configArgs, "--json"]), "the next prepare");
    const timeDependent = await cluster.sql<{ n: string }>(
      s.masDb,
      "SELECT count(*) AS n FROM syn2mas_stage.synapse_users WHERE time_dependent",
    );
    assert.equal(next.report?.stage?.usersReread, written - k + Number(timeDependent[0]?.n));
    const cut = await runCli(["migrate", ...s.configArgs, "--json"]);
    assert.equal(cut.code, 0, describeRun(cut));
    const verified = await runCli(["verify", ...s.configArgs]);
    assert.equal(verified.code, 0, describeRun(verified));
  });
});
