/**
 * readMasActivity on real migrations of the fixture (MAS 1.22 and 1.0): nothing right after the
 * migration; then, in a copy, rows MAS would write once users move in, each counted under its kind
 * with the user named; MAS's own housekeeping rows (job queue, workers) are not activity.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { describeRun } from "../harness/background.ts";
import type { MasVersion } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type Scenario } from "../harness/scenario.ts";
import { readMasActivity, type MasActivity } from "../../src/target/mas-activity.ts";
import { readLatestRecord } from "../../src/target/migration-record.ts";

async function activityOf(uri: string): Promise<MasActivity> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    await client.query("BEGIN READ ONLY");
    const record = await readLatestRecord(client);
    assert.ok(record, "the migration left its record");
    const activity = await readMasActivity(client, record.committedAt);
    await client.query("COMMIT");
    return activity;
  } finally {
    await client.end();
  }
}

for (const masVersion of ["1.22.0", "1.0.0"] as MasVersion[]) {
  describe(`MAS activity after migrating the fixture into MAS ${masVersion}`, { timeout: 600_000 }, () => {
    let cluster: Cluster;
    let scenario: Scenario;
    let copyNumber = 0;

    before(async () => {
      cluster = await startCluster();
      scenario = await prepareScenario(cluster, `activity_${masVersion}`, { masVersion, synapseOverrides: GUESTS_OFF });
      const migrate = await runCli(["migrate", ...scenario.configArgs, "--accept-all-warnings"]);
      assert.equal(migrate.code, 0, describeRun(migrate));
    });
    after(async () => cluster?.stop());

    /** A copy of the migrated MAS, changed by `change`, and its activity. */
    async function activityAfter(change: (db: string) => Promise<void>): Promise<MasActivity> {
      const copy = `${scenario.masDb}_copy${++copyNumber}`;
      await cluster.cloneDatabase(scenario.masDb, copy);
      await change(copy);
      return activityOf(cluster.uri(copy));
    }

    /** The first migrated user (in username order) holding an open session with a device. */
    async function sessionOwner(db: string): Promise<string> {
      const rows = await cluster.sql<{ username: string }>(
        db,
        `SELECT u.username FROM compat_sessions c JOIN users u USING (user_id)
          WHERE c.device_id IS NOT NULL ORDER BY u.username, c.device_id LIMIT 1`,
      );
      assert.ok(rows[0], "the fixture has a session with a device");
      return rows[0].username;
    }

    it("finds none right after the migration", async () => {
      const activity = await activityOf(cluster.uri(scenario.masDb));
      assert.deepEqual(activity.kinds, {});
      assert.equal(activity.total, 0);
      const committed = await cluster.sql<{ c: Date }>(scenario.masDb, "SELECT max(committed_at) AS c FROM syn2mas.migrations");
      assert.equal(activity.since.getTime(), committed[0]?.c.getTime());
    });

    it("counts MAS's housekeeping as no activity", async () => {
      const activity = await activityAfter(async (db) => {
        await cluster.sql(
          db,
          "INSERT INTO queue_workers (queue_worker_id, registered_at, last_seen_at) VALUES (gen_random_uuid(), now(), now())",
        );
      });
      assert.deepEqual(activity.kinds, {});
    });

    it("counts a new user, a changed password, a used and an ended session, a refresh and a browser login", async () => {
      let owner = "";
      const activity = await activityAfter(async (db) => {
        owner = await sessionOwner(db);
        await cluster.sql(db, "INSERT INTO users (user_id, username, created_at) VALUES (gen_random_uuid(), 'newcomer', now())");
        await cluster.sql(
          db,
          `INSERT INTO compat_sessions (compat_session_id, user_id, device_id, created_at)
           SELECT gen_random_uuid(), user_id, 'NEWDEVICE', now() FROM users WHERE username = 'newcomer'`,
        );
        await cluster.sql(
          db,
          `INSERT INTO user_passwords (user_password_id, user_id, hashed_password, created_at, version)
           SELECT gen_random_uuid(), user_id, 'not a real hash', now(), 1 FROM users WHERE username = $1`,
          [owner],
        );
        // The owner's first session used since, its second (if any) ended since; a new token in the first.
        await cluster.sql(
          db,
          `UPDATE compat_sessions SET last_active_at = now() WHERE compat_session_id = (
             SELECT compat_session_id FROM compat_sessions JOIN users USING (user_id)
              WHERE username = $1 AND device_id IS NOT NULL ORDER BY device_id LIMIT 1)`,
          [owner],
        );
        await cluster.sql(
          db,
          `INSERT INTO compat_access_tokens (compat_access_token_id, compat_session_id, access_token, created_at)
           SELECT gen_random_uuid(), compat_session_id, 'mct_not_a_real_token', now() FROM compat_sessions JOIN users USING (user_id)
            WHERE username = $1 AND device_id IS NOT NULL ORDER BY device_id LIMIT 1`,
          [owner],
        );
        await cluster.sql(
          db,
          `UPDATE compat_sessions SET finished_at = now() WHERE compat_session_id = (
             SELECT compat_session_id FROM compat_sessions JOIN users USING (user_id)
              WHERE username = $1 AND device_id IS NOT NULL ORDER BY device_id LIMIT 1)`,
          [owner],
        );
        await cluster.sql(
          db,
          `INSERT INTO user_sessions (user_session_id, user_id, created_at)
           SELECT gen_random_uuid(), user_id, now() FROM users WHERE username = $1`,
          [owner],
        );
      });
      assert.deepEqual(activity.kinds, {
        users_created: { count: 1, examples: ["newcomer"] },
        compat_sessions_created: { count: 1, examples: ["newcomer"] },
        passwords_changed: { count: 1, examples: [owner] },
        compat_sessions_used: { count: 1, examples: [owner] },
        compat_sessions_ended: { count: 1, examples: [owner] },
        compat_tokens_refreshed: { count: 1, examples: [owner] },
        browser_sessions: { count: 1, examples: [owner] },
      });
      assert.equal(activity.total, 7);
    });

    it("counts any row of a table the migration never writes, whatever its date, naming its user", async () => {
      let owner = "";
      const old = "2001-01-01T00:00:00Z";
      const activity = await activityAfter(async (db) => {
        owner = await sessionOwner(db);
        await cluster.sql(
          db,
          `INSERT INTO oauth2_clients (oauth2_client_id, grant_type_authorization_code, grant_type_refresh_token)
           VALUES ('01900000-0000-0000-0000-0000000c11e0', true, true)`,
        );
        const session = "01900000-0000-0000-0000-00000000b001";
        await cluster.sql(
          db,
          `INSERT INTO user_sessions (user_session_id, user_id, created_at) SELECT $2, user_id, $3 FROM users WHERE username = $1`,
          [owner, session, old],
        );
        await cluster.sql(
          db,
          `INSERT INTO oauth2_sessions (oauth2_session_id, user_session_id, oauth2_client_id, created_at, user_id, scope_list)
           SELECT gen_random_uuid(), $2, '01900000-0000-0000-0000-0000000c11e0', $3, user_id, '{openid}' FROM users WHERE username = $1`,
          [owner, session, old],
        );
        const grantSession = masVersion === "1.22.0" ? ", user_session_id" : "";
        await cluster.sql(
          db,
          `INSERT INTO oauth2_authorization_grants (oauth2_authorization_grant_id, oauth2_client_id, redirect_uri, scope,
             response_mode, response_type_code, response_type_id_token, created_at${grantSession})
           VALUES (gen_random_uuid(), '01900000-0000-0000-0000-0000000c11e0', 'https://app.example/cb', 'openid', 'query',
             true, false, $1${masVersion === "1.22.0" ? ", $2" : ""})`,
          masVersion === "1.22.0" ? [old, session] : [old],
        );
        await cluster.sql(
          db,
          `INSERT INTO compat_sso_logins (compat_sso_login_id, redirect_uri, login_token, created_at, compat_session_id)
           SELECT gen_random_uuid(), 'https://app.example/sso', 'not a real login token', $2, compat_session_id
             FROM compat_sessions JOIN users USING (user_id) WHERE username = $1 ORDER BY device_id LIMIT 1`,
          [owner, old],
        );
        await cluster.sql(
          db,
          `INSERT INTO user_registrations (user_registration_id, username, created_at) VALUES (gen_random_uuid(), 'wannabe', $1)`,
          [old],
        );
        await cluster.sql(
          db,
          `INSERT INTO user_email_authentications (user_email_authentication_id, user_session_id, email, created_at)
           VALUES (gen_random_uuid(), $1, 'someone@example.org', $2)`,
          [session, old],
        );
        await cluster.sql(
          db,
          `INSERT INTO user_terms (user_terms_id, user_id, terms_url, created_at)
           SELECT gen_random_uuid(), user_id, 'https://example.org/terms', $2 FROM users WHERE username = $1`,
          [owner, old],
        );
        await cluster.sql(
          db,
          `INSERT INTO user_recovery_sessions (user_recovery_session_id, email, user_agent, locale, created_at)
           VALUES (gen_random_uuid(), 'someone@example.org', 'curl', 'en', $1)`,
          [old],
        );
        await cluster.sql(
          db,
          `INSERT INTO upstream_oauth_authorization_sessions (upstream_oauth_authorization_session_id, upstream_oauth_provider_id,
             upstream_oauth_link_id, state, created_at)
           SELECT gen_random_uuid(), upstream_oauth_provider_id, upstream_oauth_link_id, 'state', $1
             FROM upstream_oauth_links ORDER BY upstream_oauth_link_id LIMIT 1`,
          [old],
        );
      });
      const linked = await cluster.sql<{ username: string }>(
        scenario.masDb,
        `SELECT u.username FROM upstream_oauth_links l JOIN users u USING (user_id) ORDER BY l.upstream_oauth_link_id LIMIT 1`,
      );
      assert.ok(linked[0], "the fixture has an upstream link");
      assert.deepEqual(activity.kinds, {
        browser_sessions: { count: 1, examples: [owner] },
        oauth2_sessions: { count: 1, examples: [owner] },
        // MAS 1.0's grants have no browser session to name the user by.
        oauth2_authorization_grants: { count: 1, examples: masVersion === "1.22.0" ? [owner] : [] },
        sso_logins: { count: 1, examples: [owner] },
        registrations: { count: 1, examples: ["wannabe"] },
        email_authentications: { count: 1, examples: [owner] },
        terms_accepted: { count: 1, examples: [owner] },
        recovery_sessions: { count: 1, examples: [] },
        upstream_logins: { count: 1, examples: [linked[0].username] },
      });
      assert.equal(activity.total, 9);
    });

    it("counts a migrated user locked since, and rows of a table it does not know under the table's name", async () => {
      let owner = "";
      const activity = await activityAfter(async (db) => {
        owner = await sessionOwner(db);
        await cluster.sql(db, "UPDATE users SET locked_at = now() WHERE username = $1", [owner]);
        await cluster.sql(db, "CREATE TABLE user_future_things (id int)");
        await cluster.sql(db, "INSERT INTO user_future_things VALUES (1), (2)");
      });
      assert.deepEqual(activity.kinds, {
        users_locked: { count: 1, examples: [owner] },
        user_future_things: { count: 2, examples: [] },
      });
      assert.equal(activity.total, 3);
    });
  });
}
