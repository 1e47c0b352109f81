/**
 * The real Synapse 1.160 samples migrated into MAS, every row checked, once a suite per engine: the PostgreSQL
 * sample (with a few edge rows added) into MAS 1.22 and 1.0, and the sample that ran on SQLite, read where it
 * is, into MAS 1.22 (its file, -wal and -shm left byte for byte as they were, check's counts equal to migrate's
 * report). What only SQLite can show (copies with edge rows, a running Synapse) is in migrate-sqlite.test.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import {
  FIXTURE_PEPPER,
  FIXTURE_PROVIDER_IDS,
  FIXTURE_SECRETS,
  loadSynapseManifest,
  synapseSqliteDb,
  synapseSqliteManifest,
  type MasVersion,
  type SynapseManifest,
} from "../harness/fixtures.ts";
import { describeRun } from "../harness/background.ts";
import { EDGE_ROWS_SQL, expiriesSql } from "../harness/edge-rows.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { ms, type Row } from "../harness/rows.ts";
import { GUESTS_OFF, prepareScenario, runCli, type Scenario } from "../harness/scenario.ts";
import { prepareSqliteScenario, readSqlite, snapshotFiles } from "../harness/sqlite.ts";

type Skipped = Record<string, Record<string, number>>;

interface Report {
  dryRun: boolean;
  written: Record<string, number>;
  skipped: Skipped;
  notes: Record<string, Record<string, number>>;
}

/** Guests, application-service users and puppets are reported, as on PostgreSQL: accepted by the SQLite suite's check. */
const ACCEPT = ["--accept-all-warnings"];

/** One engine's sample and MAS release, and what its migration must give. */
interface EngineCase {
  engine: "postgres" | "sqlite";
  masVersion: MasVersion;
  title: string;
  /** How the engine returns Synapse's flag columns (PostgreSQL: smallint or boolean; SQLite: 0 or 1). */
  flag: (value: unknown) => boolean;
  synapseUsers?: number;
  masUsers: number;
  lockedUser: string;
  passwords: number;
  emails: number;
  phones: Row[];
  links: number;
  sessions: number;
  adminDevice: string;
  keptTokens: number;
  /** The skip reasons migrate reports, per table; `wholeSkipped`: these are all of them. */
  skipped: Skipped;
  wholeSkipped: boolean;
  written: Record<string, number>;
}

const POSTGRES_FLAG = (value: unknown): boolean => value === true || (typeof value === "number" && value !== 0);

function postgresCase(masVersion: MasVersion): EngineCase {
  return {
    engine: "postgres",
    masVersion,
    title: `migrating synapse-1.160-small into MAS ${masVersion}`,
    flag: POSTGRES_FLAG,
    masUsers: 47,
    lockedUser: "user0006",
    passwords: 38,
    emails: 17,
    phones: [
      { username: "user0011", medium: "msisdn", address: "447910000011" },
      { username: "user0022", medium: "msisdn", address: "447910000022" },
      { username: "user0033", medium: "msisdn", address: "447910000033" },
    ],
    links: 12,
    sessions: 73 + 2,
    adminDevice: "FSMJREQZXQ",
    keptTokens: 71,
    skipped: {
      users: { appservice_user: 3 },
      devices: { guest_user: 2, appservice_user: 3, hidden_device: 1 },
      access_tokens: {
        appservice_user: 3,
        hidden_device: 1,
        superseded_refresh_pair: 1,
        puppet_token: 2,
        missing_device: 1,
        ended_session: 1,
      },
      refresh_tokens: { superseded_refresh_pair: 1, no_access_token: 1, ended_session: 1 },
    },
    wholeSkipped: false,
    written: {
      users: 47,
      user_passwords: 38,
      user_emails: 17,
      user_unsupported_third_party_ids: 3,
      upstream_oauth_links: 12,
      compat_sessions: 76,
      compat_access_tokens: 73 - 1 - 1 + 2 + 1,
      compat_refresh_tokens: 31,
    },
  };
}

const SQLITE_CASE: EngineCase = {
  engine: "sqlite",
  masVersion: "1.22.0",
  title: "migrating synapse-1.160-sqlite-small, read where it is, into MAS 1.22",
  flag: (value) => value === 1,
  synapseUsers: 28,
  masUsers: 25,
  lockedUser: "user0007",
  passwords: 18,
  emails: 8,
  phones: [{ username: "user0011", medium: "msisdn", address: "447910000011" }],
  links: 5,
  sessions: 31,
  adminDevice: "GCWVRTJFIF",
  keptTokens: 31 - 11,
  skipped: {
    users: { appservice_user: 3 },
    passwords: { no_password_hash: 7 },
    devices: { guest_user: 2, appservice_user: 3 },
    access_tokens: { appservice_user: 3, puppet_token: 2, ended_session: 11 },
    refresh_tokens: { ended_session: 11 },
  },
  wholeSkipped: true,
  written: {
    users: 25,
    user_passwords: 18,
    user_emails: 8,
    user_unsupported_third_party_ids: 1,
    upstream_oauth_links: 5,
    compat_sessions: 31,
    compat_access_tokens: 31 - 11,
    compat_refresh_tokens: 0,
  },
};

for (const c of [postgresCase("1.22.0"), postgresCase("1.0.0"), SQLITE_CASE]) {
  describe(c.title, () => {
    const onPostgres = c.engine === "postgres";
    let cluster: Cluster;
    let scenario: Scenario;
    let manifest: SynapseManifest;
    let report: Report;
    let stderr: string;
    let wouldSkip: Skipped | null;
    let filesBefore: ReturnType<typeof snapshotFiles>;
    let filesAfter: ReturnType<typeof snapshotFiles>;
    const mas = (sql: string, params?: unknown[]) => cluster.sql<Row>(scenario.masDb, sql, params);
    const synapse = (sql: string) =>
      onPostgres ? cluster.sql<Row>(scenario.synapseDb, sql) : readSqlite<Row>(synapseSqliteDb, sql);

    before(async () => {
      cluster = await startCluster();
      if (onPostgres) {
        manifest = await loadSynapseManifest();
        scenario = await prepareScenario(cluster, `fixture_${c.masVersion}`, {
          masVersion: c.masVersion,
          synapseOverrides: GUESTS_OFF,
        });
        await cluster.sql(scenario.synapseDb, EDGE_ROWS_SQL);
        await cluster.sql(scenario.synapseDb, expiriesSql(Date.now()));
      } else {
        manifest = await loadSynapseManifest(synapseSqliteManifest);
        scenario = await prepareSqliteScenario(cluster, "sqlite_fixture", synapseSqliteDb, { synapseOverrides: GUESTS_OFF });
        filesBefore = snapshotFiles(synapseSqliteDb);
        const check = await runCli(["check", ...scenario.configArgs, "--json", ...ACCEPT]);
        assert.equal(check.code, 0, describeRun(check));
        wouldSkip = (JSON.parse(check.stdout) as { wouldSkip: Skipped | null }).wouldSkip;
        const dry = await runCli(["migrate", ...scenario.configArgs, "--dry-run", "--json"]);
        assert.equal(dry.code, 0, describeRun(dry));
      }
      const result = await runCli(["migrate", ...scenario.configArgs, "--json"]);
      stderr = result.stderr;
      assert.equal(result.code, 0, describeRun(result));
      report = (JSON.parse(result.stdout) as { report: Report }).report;
      if (!onPostgres) filesAfter = snapshotFiles(synapseSqliteDb);
    });
    after(async () => cluster?.stop());

    if (!onPostgres) {
      it("leaves the database file, its -wal and its -shm byte for byte as they were, and creates nothing beside them", () => {
        assert.ok(filesBefore.sha256["synapse-1.160-sqlite-small.db"], "the fixture is there");
        assert.deepEqual(filesAfter, filesBefore);
      });
    }

    it("writes every non-appservice user with its flags", async () => {
      const synapseUsers = await synapse("SELECT * FROM users ORDER BY name");
      const masUsers = new Map((await mas("SELECT * FROM users")).map((u) => [u.username as string, u]));
      if (c.synapseUsers !== undefined) assert.equal(synapseUsers.length, c.synapseUsers);
      assert.equal(masUsers.size, c.masUsers);
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
        assert.equal(m.can_request_admin, c.flag(s.admin), `${localpart} admin`);
        assert.equal(m.is_guest, c.flag(s.is_guest));
        assert.equal(ms(m.locked_at), c.flag(s.locked) ? created : null, `${localpart} locked`);
        assert.equal(ms(m.deactivated_at), c.flag(s.deactivated) ? created : null);
        // The ULID's time part is the creation time.
        assert.equal(parseInt((m.user_id as string).replace(/-/g, "").slice(0, 12), 16), created);
        const flags = manifest.users[localpart];
        if (flags) {
          assert.equal(m.can_request_admin, flags.admin);
          assert.equal(m.locked_at !== null, flags.locked === true);
          assert.equal(m.deactivated_at !== null, flags.deactivated === true);
        }
      }
      assert.equal(masUsers.get("1")?.is_guest, true);
      assert.equal(masUsers.get("user0017")?.can_request_admin, true);
      assert.ok(masUsers.get(c.lockedUser)?.locked_at);
    });

    it("writes one password per non-empty hash, and every manifest password verifies as MAS scheme 1 does", async () => {
      const rows = await mas(
        "SELECT u.username, p.hashed_password, p.version, p.upgraded_from_id, p.created_at, u.created_at AS user_created FROM user_passwords p JOIN users u USING (user_id)",
      );
      const hashes = await synapse(
        "SELECT name, password_hash FROM users WHERE password_hash IS NOT NULL AND password_hash <> ''",
      );
      assert.equal(rows.length, hashes.length);
      assert.equal(rows.length, c.passwords);
      const byUser = new Map(rows.map((r) => [r.username as string, r]));
      for (const h of hashes) {
        const row = byUser.get((h.name as string).slice(1, (h.name as string).indexOf(":")));
        assert.equal(row?.hashed_password, h.password_hash);
        assert.equal(row?.version, 1);
        assert.equal(row?.upgraded_from_id, null);
      }
      let verified = 0;
      for (const [localpart, user] of Object.entries(manifest.users)) {
        const row = byUser.get(localpart);
        if (user.password === null || user.deactivated) {
          assert.equal(row, undefined, `${localpart} has no password row`);
          continue;
        }
        assert.ok(row, `${localpart} has a password row`);
        const candidate = user.password.normalize("NFKC") + FIXTURE_PEPPER;
        assert.ok(await bcrypt.compare(candidate, row.hashed_password as string), `${localpart}'s password verifies`);
        verified++;
      }
      assert.equal(verified, c.passwords);
    });

    it("writes every email and phone number on its user", async () => {
      const emails = await mas("SELECT u.username, e.* FROM user_emails e JOIN users u USING (user_id) ORDER BY email");
      const synapseEmails = await synapse("SELECT * FROM user_threepids WHERE medium = 'email' ORDER BY address");
      assert.equal(emails.length, synapseEmails.length);
      assert.equal(emails.length, c.emails);
      for (const [i, s] of synapseEmails.entries()) {
        const e = emails[i] as Row;
        assert.equal(e.email, s.address);
        assert.equal(`@${e.username}:example.com`, s.user_id);
        assert.equal(ms(e.created_at), Number(s.added_at));
        if (c.masVersion === "1.0.0") assert.equal(ms(e.confirmed_at), Number(s.added_at));
        else assert.equal("confirmed_at" in e, false);
      }
      for (const [localpart, user] of Object.entries(manifest.users)) {
        if (user.deactivated) continue;
        for (const t of user.threepids.filter((t) => t.medium === "email")) {
          assert.ok(
            emails.some((e) => e.username === localpart && e.email === t.address.toLowerCase()),
            `${localpart} keeps ${t.address}`,
          );
        }
      }
      const phones = await mas(
        "SELECT u.username, t.medium, t.address FROM user_unsupported_third_party_ids t JOIN users u USING (user_id) ORDER BY address",
      );
      assert.deepEqual(phones, c.phones);
    });

    it("links every external id to the right MAS provider", async () => {
      const links = await mas(
        "SELECT u.username, l.upstream_oauth_provider_id::text AS provider, l.subject, l.created_at, u.created_at AS user_created, l.human_account_name FROM upstream_oauth_links l JOIN users u USING (user_id)",
      );
      const expected = Object.entries(manifest.users).flatMap(([localpart, u]) => u.external.map((e) => ({ localpart, ...e })));
      const synapseRows = await synapse("SELECT * FROM user_external_ids");
      assert.equal(links.length, synapseRows.length);
      assert.equal(links.length, c.links);
      assert.ok(expected.length >= 3);
      for (const e of expected) {
        const link = links.find((l) => l.subject === e.external_id);
        assert.ok(link, `link for ${e.localpart}`);
        assert.equal(link.username, e.localpart);
        assert.equal(
          link.provider,
          e.auth_provider === "oidc-keycloak" ? FIXTURE_PROVIDER_IDS.keycloak : FIXTURE_PROVIDER_IDS.github,
        );
        assert.equal(ms(link.created_at), ms(link.user_created));
        assert.equal(link.human_account_name, null);
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
      assert.equal(sessions.length, c.sessions);
      for (const d of devices) {
        const s = sessions.find((x) => `@${x.username}:example.com` === d.user_id && x.device_id === d.device_id);
        assert.ok(s, `session for ${d.user_id} ${d.device_id}`);
        assert.equal(s.human_name, d.display_name);
        assert.equal(s.user_agent, d.user_agent);
        assert.equal(ms(s.last_active_at), d.last_seen === null ? null : Number(d.last_seen));
        // The edge rows' unparsable IPs (PostgreSQL only) are stored as NULL; any other IP as it is.
        assert.equal(s.ip, d.ip === null || d.ip === "-" || d.ip === "not-an-ip" ? null : d.ip);
        assert.equal(s.is_synapse_admin, c.flag(d.admin));
        assert.equal(s.finished_at, null);
        assert.equal(s.user_session_id, null);
      }
      const admin = sessions.find((s) => s.device_id === c.adminDevice);
      assert.equal(admin?.is_synapse_admin, true);
      assert.equal(admin?.ip, "127.0.0.1");
      assert.equal(admin?.human_name, `Renamed ${c.adminDevice} ✓`);
      if (onPostgres) {
        // A device with hidden = NULL is visible; one without tokens starts when it was last seen.
        const nullHidden = sessions.find((s) => s.device_id === "NULLHIDDEN");
        assert.equal(ms(nullHidden?.created_at), 1795406000000);
        assert.equal(
          sessions.some((s) => s.device_id === "master signing key"),
          false,
        );
      }
    });

    const tokensTitle = onPostgres
      ? "puts every kept access token on its device's session, with its expiry, and every kept refresh pair"
      : "puts every kept access token on its device's session, with its expiry, and leaves the ended refresh pairs behind";
    it(tokensTitle, async () => {
      const tokens = await mas(
        `SELECT t.access_token, t.expires_at, t.created_at, s.device_id, u.username, r.refresh_token,
                r.compat_session_id = s.compat_session_id AS refresh_same_session, s.created_at AS session_created
           FROM compat_access_tokens t JOIN compat_sessions s USING (compat_session_id) JOIN users u USING (user_id)
           LEFT JOIN compat_refresh_tokens r ON r.compat_access_token_id = t.compat_access_token_id`,
      );
      const byToken = new Map(tokens.map((t) => [t.access_token as string, t]));
      const synapseTokens = new Map((await synapse("SELECT * FROM access_tokens")).map((t) => [t.token as string, t]));
      let kept = 0;
      for (const t of manifest.tokens) {
        const m = byToken.get(t.token);
        const s = synapseTokens.get(t.token);
        // Synapse deleted the tokens of deactivated users and logged-out devices; what it still holds is the truth.
        if (s === undefined) {
          assert.ok(t.revoked_by_deactivation || t.logged_out, `${t.user}'s token is only missing when revoked`);
          assert.equal(m, undefined);
          continue;
        }
        if (onPostgres && Number(s.refresh_token_id) === 20) {
          assert.equal(m, undefined, "the superseded pair of user0019 is dropped");
          continue;
        }
        if (onPostgres && Number(s.refresh_token_id) === 3) {
          assert.equal(m, undefined, "the expired pair of user0002 is dropped");
          continue;
        }
        // The SQLite sample's refresh tokens were made with a 24-hour lifetime: every pair has ended and stays behind
        // (ended-sessions.test.ts migrates live ones from a copy of the file).
        if (!onPostgres && t.refresh_token) {
          assert.equal(m, undefined, `${t.user}'s ended pair on ${t.device} is not migrated`);
          continue;
        }
        assert.ok(m, `token of ${t.user} on ${t.device} migrated`);
        kept++;
        assert.equal(m.username, t.user);
        assert.equal(m.device_id, t.device);
        assert.equal(m.refresh_token, t.refresh_token ?? null);
        if (t.refresh_token) assert.equal(m.refresh_same_session, true);
        assert.equal(ms(m.expires_at), s.valid_until_ms === null ? null : Number(s.valid_until_ms));
        assert.equal(ms(m.created_at), Number(s.last_validated));
        assert.ok((ms(m.session_created) as number) <= (ms(m.created_at) as number));
      }
      assert.equal(kept, c.keptTokens);
      for (const absent of [...manifest.puppets.map((p) => p.token), ...manifest.guests.map((g) => g.token)]) {
        assert.equal(byToken.has(absent), false, "puppet and guest tokens are not migrated");
      }
      if (onPostgres) {
        // Edge rows: the used rotation replaces its predecessor; an unacknowledged one keeps both pairs.
        assert.equal(byToken.get("syt_edge_rotated_used")?.refresh_token, "syr_edge_rotated_used");
        assert.equal(byToken.get("syt_edge_rotated_unused")?.refresh_token, "syr_edge_rotated_unused");
        const user0021Pairs = tokens.filter((t) => t.username === "user0021" && t.device_id === "INCLLOINLV" && t.refresh_token);
        assert.equal(user0021Pairs.length, 2);
        for (const absent of ["syt_edge_hidden", "syt_edge_missing_device"])
          assert.equal(byToken.has(absent), false, "token must not be migrated");
        const refreshCount = await mas("SELECT count(*)::int AS n FROM compat_refresh_tokens");
        assert.equal(refreshCount[0]?.n, 31 - 1 - 1 + 2);
        const expired = await mas(
          "SELECT count(*)::int AS n FROM compat_refresh_tokens WHERE refresh_token = 'syr_dXNlcjAwMDI_MfEbXHVSiegkbBDaaadZ_2LwYaB'",
        );
        assert.equal(expired[0]?.n, 0);
      } else {
        assert.equal(tokens.length, 31 - 11);
        assert.equal(tokens.filter((t) => t.refresh_token !== null).length, 0);
      }
    });

    if (onPostgres) {
      it("gives a token without a device its own session with the owner's admin flag", async () => {
        const rows = await mas(
          `SELECT s.device_id, s.is_synapse_admin, s.created_at, t.expires_at, u.username FROM compat_access_tokens t
             JOIN compat_sessions s USING (compat_session_id) JOIN users u USING (user_id) WHERE t.access_token = 'syt_edge_deviceless'`,
        );
        assert.deepEqual(
          rows.map((r) => ({ ...r, created_at: ms(r.created_at), expires_at: ms(r.expires_at) })),
          [
            {
              device_id: null,
              is_synapse_admin: true,
              created_at: 1795406000002,
              expires_at: 1795500000000,
              username: "user0017",
            },
          ],
        );
      });
    }

    const reportTitle = onPostgres
      ? "leaves out application-service users, guests' and deactivated users' sessions, puppets and hidden devices, with reasons"
      : "skips application-service users, guests' devices, puppets and ended sessions with their reasons, as check said it would";
    it(reportTitle, async () => {
      const absentSessions = await mas(
        "SELECT u.username FROM compat_sessions s JOIN users u USING (user_id) WHERE u.is_guest OR u.deactivated_at IS NOT NULL",
      );
      assert.deepEqual(absentSessions, []);
      assert.equal(report.dryRun, false);
      if (c.wholeSkipped) assert.deepEqual(report.skipped, c.skipped);
      else for (const [table, reasons] of Object.entries(c.skipped)) assert.deepEqual(report.skipped[table], reasons, table);
      if (onPostgres) {
        assert.deepEqual(report.notes.devices, { unparsable_ip_stored_as_null: 1 });
        assert.match(stderr, /appservice_user/);
      } else {
        assert.deepEqual(wouldSkip, report.skipped);
      }
      assert.deepEqual(report.written, c.written);
      for (const secret of [...FIXTURE_SECRETS, ...manifest.tokens.map((t) => t.token)]) {
        assert.equal(stderr.includes(secret), false, "no secret in the output");
      }
    });
  });
}
