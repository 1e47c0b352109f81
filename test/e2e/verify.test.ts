/**
 * `syn2mas verify` after real migrations of the fixtures: equal (exit 0, counts and skips equal to
 * the migration report's), tampered copies of MAS (exit 10, naming the table, kind and an example),
 * activity since the migration (exit 0, reported apart), a Synapse that kept running (divergence),
 * both databases unchanged, no secret in any output, and the migration record.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { FIXTURE_PEPPER, FIXTURE_PROVIDER_IDS, FIXTURE_SECRETS, synapseSqliteDb, type MasVersion } from "../harness/fixtures.ts";
import { describeRun } from "../harness/background.ts";
import { EDGE_ROWS_SQL, expiriesSql } from "../harness/edge-rows.ts";
import { fingerprint } from "../harness/fingerprint.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { prepareSqliteScenario } from "../harness/sqlite.ts";
import { scratchDir } from "../harness/scratch.ts";
import { writeMasConfig, writeSynapseConfig } from "../harness/temp-config.ts";

type Counts = Record<string, number>;
interface Examples {
  count: number;
  examples: { user: string; device?: string }[];
}
interface TableJson {
  table: string;
  expected: number;
  found: number;
  equal: number;
  missing: Examples;
  unexpected: Examples;
  different: Examples & { columns: Counts };
  activity: Examples;
  divergence: Examples;
}
interface VerifyJson {
  command: string;
  exitCode: number;
  record: { committedAt: string; toolVersion: string; counts: Counts } | null;
  tables: TableJson[];
  skipped: Record<string, Counts>;
  differs: boolean;
}
interface MigrateJson {
  report: { written: Counts; skipped: Record<string, Counts> };
}

function parse(result: CliResult): VerifyJson {
  return JSON.parse(result.stdout) as VerifyJson;
}

function table(json: VerifyJson, name: string): TableJson {
  const found = json.tables.find((t) => t.table === name);
  assert.ok(found, `verify reports table ${name}`);
  return found;
}

/** Every secret of the run: the fixture's configuration secrets, every hash and token MAS holds. */
async function secretsOf(cluster: Cluster, masDb: string): Promise<string[]> {
  const rows = await cluster.sql<{ s: string }>(
    masDb,
    `SELECT hashed_password AS s FROM user_passwords UNION ALL SELECT access_token FROM compat_access_tokens
     UNION ALL SELECT refresh_token FROM compat_refresh_tokens`,
  );
  return [...FIXTURE_SECRETS, ...rows.map((r) => r.s)];
}

function assertNoSecret(result: CliResult, secrets: readonly string[]): void {
  for (const secret of secrets) {
    assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), "no secret in the output");
  }
}

const ENGINES: { engine: "postgres" | "sqlite"; masVersion: MasVersion }[] = [
  { engine: "postgres", masVersion: "1.22.0" },
  { engine: "postgres", masVersion: "1.0.0" },
  { engine: "sqlite", masVersion: "1.22.0" },
];

for (const c of ENGINES) {
  describe(`verify after migrating the ${c.engine} fixture into MAS ${c.masVersion}`, { timeout: 600_000 }, () => {
    let cluster: Cluster;
    let scenario: Scenario;
    let migrated: MigrateJson;
    let result: CliResult;
    let json: VerifyJson;
    let before_: { mas: string; synapse: string | null };
    let after_: { mas: string; synapse: string | null };

    before(async () => {
      cluster = await startCluster();
      if (c.engine === "postgres") {
        scenario = await prepareScenario(cluster, `verify_${c.masVersion}`, {
          masVersion: c.masVersion,
          synapseOverrides: GUESTS_OFF,
        });
        await cluster.sql(scenario.synapseDb, EDGE_ROWS_SQL);
        await cluster.sql(scenario.synapseDb, expiriesSql(Date.now()));
      } else {
        scenario = await prepareSqliteScenario(cluster, "verify_sqlite", synapseSqliteDb, { synapseOverrides: GUESTS_OFF });
      }
      const migrate = await runCli(["migrate", ...scenario.configArgs, "--json", "--accept-all-warnings"]);
      assert.equal(migrate.code, 0, describeRun(migrate));
      migrated = JSON.parse(migrate.stdout) as MigrateJson;
      const synapseFingerprint = () =>
        c.engine === "postgres" ? fingerprint(cluster.uri(scenario.synapseDb)) : Promise.resolve(null);
      before_ = { mas: await fingerprint(cluster.uri(scenario.masDb)), synapse: await synapseFingerprint() };
      result = await runCli(["verify", ...scenario.configArgs, "--json"]);
      after_ = { mas: await fingerprint(cluster.uri(scenario.masDb)), synapse: await synapseFingerprint() };
      json = parse(result);
    });
    after(async () => cluster?.stop());

    it("exits 0 and finds every table equal", () => {
      assert.equal(result.code, 0, describeRun(result));
      assert.equal(json.differs, false);
      assert.equal(json.tables.length, 8);
      for (const t of json.tables) {
        assert.equal(
          t.missing.count + t.unexpected.count + t.different.count + t.activity.count + t.divergence.count,
          0,
          t.table,
        );
        assert.equal(t.equal, t.expected, t.table);
      }
      assert.match(result.stderr, /MAS holds every row the migration must have written/);
    });

    it("counts per table what the migration report wrote, and skips what it skipped", () => {
      const written = migrated.report.written;
      assert.ok((written.users ?? 0) > 0);
      for (const t of json.tables) {
        assert.equal(t.expected, written[t.table] ?? 0, `${t.table} expected`);
        assert.equal(t.found, written[t.table] ?? 0, `${t.table} found`);
      }
      assert.deepEqual(json.skipped, migrated.report.skipped);
    });

    it("reads the migration's record: this tool's version and the report's counts", () => {
      assert.ok(json.record);
      assert.equal(json.record.toolVersion, "0.1.0");
      assert.deepEqual(json.record.counts, migrated.report.written);
    });

    it("leaves both databases as they were", () => {
      assert.equal(after_.mas, before_.mas);
      assert.equal(after_.synapse, before_.synapse);
    });

    it("prints no secret", async () => {
      assertNoSecret(result, await secretsOf(cluster, scenario.masDb));
    });
  });
}

/** One change to a migrated MAS: `pick` chooses the row (its user, and device) and `change` makes the change ($1 user, $2 device). */
interface TamperCase {
  name: string;
  pick: string;
  change: string;
  table: string;
  kind: "missing" | "different" | "unexpected";
  /** For "different": the column named. */
  column?: string;
  /** The device the example must name (default: the picked one). */
  device?: string;
}

const USER_OF = "(SELECT user_id FROM users WHERE username = $1)";
const SESSION_OF = `(SELECT compat_session_id FROM compat_sessions WHERE user_id = ${USER_OF} AND device_id = $2)`;
const TOKEN_PICK = `SELECT u.username, s.device_id AS device FROM compat_access_tokens t
  JOIN compat_sessions s USING (compat_session_id) JOIN users u ON u.user_id = s.user_id
  WHERE s.device_id IS NOT NULL ORDER BY u.username, s.device_id LIMIT 1`;
const FIRST_TOKEN_OF = `(SELECT min(compat_access_token_id::text)::uuid FROM compat_access_tokens WHERE compat_session_id = ${SESSION_OF})`;

const TAMPERS: TamperCase[] = [
  {
    name: "a deleted user",
    pick: `SELECT username FROM users u WHERE ${[
      "user_passwords",
      "user_emails",
      "user_unsupported_third_party_ids",
      "upstream_oauth_links",
      "compat_sessions",
    ]
      .map((t) => `NOT EXISTS (SELECT 1 FROM ${t} x WHERE x.user_id = u.user_id)`)
      .join(" AND ")} ORDER BY username LIMIT 1`,
    change: "DELETE FROM users WHERE username = $1",
    table: "users",
    kind: "missing",
  },
  {
    name: "a changed password hash",
    pick: "SELECT u.username FROM user_passwords p JOIN users u USING (user_id) ORDER BY u.username LIMIT 1",
    change: `UPDATE user_passwords SET hashed_password = hashed_password || 'x' WHERE user_id = ${USER_OF}`,
    table: "user_passwords",
    kind: "different",
    column: "hashed_password",
  },
  {
    name: "a dropped admin flag",
    pick: "SELECT username FROM users WHERE can_request_admin ORDER BY username LIMIT 1",
    change: "UPDATE users SET can_request_admin = false WHERE username = $1",
    table: "users",
    kind: "different",
    column: "can_request_admin",
  },
  {
    name: "a token on another session",
    pick: TOKEN_PICK,
    change: `UPDATE compat_access_tokens SET compat_session_id = (SELECT compat_session_id FROM compat_sessions
      WHERE device_id IS NOT NULL AND compat_session_id <> ${SESSION_OF} ORDER BY device_id LIMIT 1)
      WHERE compat_access_token_id = ${FIRST_TOKEN_OF}`,
    table: "compat_access_tokens",
    kind: "different",
    column: "session",
  },
  {
    name: "a changed expiry",
    pick: TOKEN_PICK,
    change: `UPDATE compat_access_tokens SET expires_at = coalesce(expires_at, now()) + interval '1 hour'
      WHERE compat_access_token_id = ${FIRST_TOKEN_OF}`,
    table: "compat_access_tokens",
    kind: "different",
    column: "expires_at",
  },
  {
    name: "a missing email",
    pick: "SELECT u.username FROM user_emails e JOIN users u USING (user_id) ORDER BY u.username LIMIT 1",
    change: `DELETE FROM user_emails WHERE user_email_id = (SELECT min(user_email_id::text)::uuid FROM user_emails WHERE user_id = ${USER_OF})`,
    table: "user_emails",
    kind: "missing",
  },
  {
    name: "a link on the wrong provider",
    pick: `SELECT u.username FROM upstream_oauth_links l JOIN users u USING (user_id)
      WHERE l.upstream_oauth_provider_id = '${FIXTURE_PROVIDER_IDS.keycloak}' ORDER BY u.username LIMIT 1`,
    change: `UPDATE upstream_oauth_links SET upstream_oauth_provider_id = '${FIXTURE_PROVIDER_IDS.github}'
      WHERE user_id = ${USER_OF} AND upstream_oauth_provider_id = '${FIXTURE_PROVIDER_IDS.keycloak}'`,
    table: "upstream_oauth_links",
    kind: "missing",
  },
  {
    name: "an unpaired refresh token",
    pick: `SELECT u.username, s.device_id AS device FROM compat_refresh_tokens r
      JOIN compat_sessions s USING (compat_session_id) JOIN users u ON u.user_id = s.user_id ORDER BY u.username, s.device_id LIMIT 1`,
    change: `UPDATE compat_refresh_tokens r SET compat_access_token_id = (SELECT compat_access_token_id FROM compat_access_tokens a
      WHERE a.compat_access_token_id <> r.compat_access_token_id ORDER BY a.compat_access_token_id LIMIT 1)
      WHERE r.compat_session_id = ${SESSION_OF}`,
    table: "compat_refresh_tokens",
    kind: "different",
    column: "paired_access_token",
  },
  {
    name: "an extra session dated before the migration",
    pick: "SELECT username FROM users ORDER BY username LIMIT 1",
    change: `INSERT INTO compat_sessions (compat_session_id, user_id, device_id, created_at)
      SELECT gen_random_uuid(), user_id, 'EXTRADEVICE', '2020-01-01' FROM users WHERE username = $1`,
    table: "compat_sessions",
    kind: "unexpected",
    device: "EXTRADEVICE",
  },
  {
    name: "a changed device name",
    pick: "SELECT u.username, s.device_id AS device FROM compat_sessions s JOIN users u USING (user_id) WHERE s.device_id IS NOT NULL ORDER BY 1, 2 LIMIT 1",
    change: `UPDATE compat_sessions SET human_name = 'renamed' WHERE compat_session_id = ${SESSION_OF}`,
    table: "compat_sessions",
    kind: "different",
    column: "human_name",
  },
  {
    name: "a locked flag",
    pick: "SELECT username FROM users WHERE locked_at IS NULL ORDER BY username LIMIT 1",
    change: "UPDATE users SET locked_at = created_at WHERE username = $1",
    table: "users",
    kind: "different",
    column: "locked_at",
  },
  {
    name: "an extra email",
    pick: "SELECT username FROM users ORDER BY username LIMIT 1",
    change: `INSERT INTO user_emails (user_email_id, user_id, email, created_at)
      SELECT gen_random_uuid(), user_id, 'extra@example.org', '2020-01-01' FROM users WHERE username = $1`,
    table: "user_emails",
    kind: "unexpected",
  },
  {
    name: "a dropped session admin flag",
    pick: "SELECT u.username, s.device_id AS device FROM compat_sessions s JOIN users u USING (user_id) WHERE s.is_synapse_admin ORDER BY 1, 2 LIMIT 1",
    change: `UPDATE compat_sessions SET is_synapse_admin = false WHERE compat_session_id = ${SESSION_OF}`,
    table: "compat_sessions",
    kind: "different",
    column: "is_synapse_admin",
  },
  {
    name: "a deleted access token",
    pick: TOKEN_PICK,
    change: `DELETE FROM compat_access_tokens WHERE compat_access_token_id = ${FIRST_TOKEN_OF}
      AND NOT EXISTS (SELECT 1 FROM compat_refresh_tokens r WHERE r.compat_access_token_id = ${FIRST_TOKEN_OF})`,
    table: "compat_access_tokens",
    kind: "missing",
  },
];

describe("verify after a migration, on copies of MAS each changed in one thing", { timeout: 900_000 }, () => {
  let cluster: Cluster;
  let scenario: Scenario;
  let serverName: string;
  let copies = 0;

  /** A copy of the migrated MAS, `prepare`d, and verify's run against it. */
  async function verifyCopy(prepare: (db: string) => Promise<void>, synapseConfig = scenario.synapseConfig) {
    const db = `${scenario.masDb}_copy${++copies}`;
    await cluster.cloneDatabase(scenario.masDb, db);
    await prepare(db);
    const dir = scratchDir("syn2mas-verify-");
    const masConfig = await writeMasConfig(dir, { uri: cluster.uri(db) });
    const result = await runCli(["verify", "--config", masConfig, "--synapse-config", synapseConfig, "--json"]);
    return { db, result };
  }

  before(async () => {
    cluster = await startCluster();
    scenario = await prepareScenario(cluster, "verify_tamper", { synapseOverrides: GUESTS_OFF });
    await cluster.sql(scenario.synapseDb, EDGE_ROWS_SQL);
    await cluster.sql(scenario.synapseDb, expiriesSql(Date.now()));
    const migrate = await runCli(["migrate", ...scenario.configArgs, "--accept-all-warnings"]);
    assert.equal(migrate.code, 0, describeRun(migrate));
    serverName = "example.com";
  });
  after(async () => cluster?.stop());

  for (const c of TAMPERS) {
    it(`${c.name}: exits 10, naming ${c.table}, ${c.kind}${c.column ? ` (${c.column})` : ""} and the user`, async () => {
      let picked: { username: string; device?: string | null } | undefined;
      const { db, result } = await verifyCopy(async (copy) => {
        picked = (await cluster.sql<{ username: string; device?: string | null }>(copy, c.pick))[0];
        assert.ok(picked, `the fixture has a row to change for ${c.name}`);
        const params = c.change.includes("$2") ? [picked.username, picked.device] : [picked.username];
        await cluster.sql(copy, c.change, params);
      });
      assert.ok(picked);
      assert.equal(result.code, 10, describeRun(result));
      const json = parse(result);
      assert.equal(json.differs, true);
      const t = table(json, c.table);
      const kind = t[c.kind];
      assert.ok(kind.count >= 1, `${c.table} has ${c.kind} rows`);
      if (c.column !== undefined) assert.ok((t.different.columns[c.column] ?? 0) >= 1, `column ${c.column} named`);
      const user = `@${picked.username}:${serverName}`;
      const device = c.device ?? picked.device ?? undefined;
      assert.ok(
        kind.examples.some((e) => e.user === user && (device === undefined || e.device === device)),
        `example ${user} ${device ?? ""} in ${JSON.stringify(kind.examples)}`,
      );
      assert.match(result.stderr, new RegExp(`${c.table}: \\d+ ${c.kind}`));
      assert.ok(result.stderr.includes(user), "the text names the user");
      assertNoSecret(result, await secretsOf(cluster, db));
      assert.ok(!result.stdout.includes("extra@example.org") && !result.stderr.includes("extra@example.org"), "no address");
    });
  }

  it("activity after the migration (a new user, a changed password, a new session) exits 0 and is reported apart", async () => {
    const { result } = await verifyCopy(async (copy) => {
      await cluster.sql(copy, "INSERT INTO users (user_id, username, created_at) VALUES (gen_random_uuid(), 'newcomer', now())");
      // A password changed in MAS: a new bcrypt of scheme 1 (with the pepper), as MAS itself would store it.
      await cluster.sql(
        copy,
        `INSERT INTO user_passwords (user_password_id, user_id, hashed_password, created_at, version)
         SELECT gen_random_uuid(), user_id, $1, now(), version FROM user_passwords
          WHERE user_id = (SELECT min(user_id::text)::uuid FROM user_passwords)`,
        [bcrypt.hashSync(`a new password${FIXTURE_PEPPER}`, 4)],
      );
      await cluster.sql(
        copy,
        `INSERT INTO compat_sessions (compat_session_id, user_id, device_id, created_at)
         SELECT gen_random_uuid(), user_id, 'NEWDEVICE', now() FROM users WHERE username = 'newcomer'`,
      );
      // A migrated session used since: MAS moved its last activity on.
      await cluster.sql(
        copy,
        `UPDATE compat_sessions SET last_active_at = now(), last_active_ip = '10.9.9.9'
          WHERE compat_session_id = (SELECT compat_session_id FROM compat_sessions WHERE device_id IS NOT NULL
                                      ORDER BY device_id LIMIT 1)`,
      );
    });
    assert.equal(result.code, 0, describeRun(result));
    const json = parse(result);
    assert.equal(json.differs, false);
    assert.equal(table(json, "users").activity.count, 1);
    assert.deepEqual(table(json, "users").activity.examples, [{ user: `@newcomer:${serverName}` }]);
    assert.equal(table(json, "user_passwords").activity.count, 1);
    // The new session, and the migrated one used since (its last activity moved on): both activity, neither a difference.
    const sessions = table(json, "compat_sessions");
    assert.equal(sessions.activity.count, 2);
    assert.ok(sessions.activity.examples.some((e) => e.user === `@newcomer:${serverName}` && e.device === "NEWDEVICE"));
    assert.equal(sessions.different.count, 0);
    assert.match(result.stderr, /Activity in MAS since the migration/);
  });

  it("a user Synapse gained after the migration is reported as divergence", async () => {
    const synapseCopy = `${scenario.synapseDb}_later`;
    await cluster.cloneDatabase(scenario.synapseDb, synapseCopy);
    await cluster.sql(
      synapseCopy,
      "INSERT INTO users (name, creation_ts) VALUES ('@latecomer:example.com', extract(epoch from now())::bigint + 60)",
    );
    const dir = scratchDir("syn2mas-verify-syn-");
    const synapseConfig = await writeSynapseConfig(dir, { databaseUri: cluster.uri(synapseCopy), overrides: GUESTS_OFF });
    const { result } = await verifyCopy(async () => undefined, synapseConfig);
    assert.equal(result.code, 0, describeRun(result));
    const users = table(parse(result), "users");
    assert.equal(users.divergence.count, 1);
    assert.deepEqual(users.divergence.examples, [{ user: "@latecomer:example.com" }]);
    assert.equal(users.missing.count, 0);
    assert.match(result.stderr, /Synapse gained rows after the migration/);
  });

  it("without a migration record, still compares and says there is none", async () => {
    const { result } = await verifyCopy((copy) => cluster.sql(copy, "DROP SCHEMA syn2mas CASCADE").then(() => undefined));
    assert.equal(result.code, 0, describeRun(result));
    assert.equal(parse(result).record, null);
    assert.match(result.stderr, /No migration record in MAS/);
  });

  it("could not run (MAS's database does not exist): exit 1, one line naming the cause and the fix", async () => {
    const dir = scratchDir("syn2mas-verify-missing-");
    const masConfig = await writeMasConfig(dir, { uri: cluster.uri("no_such_mas") });
    const result = await runCli(["verify", "--config", masConfig, "--synapse-config", scenario.synapseConfig, "--json"]);
    assert.equal(result.code, 1, describeRun(result));
    const lines = result.stderr.trim().split("\n");
    assert.match(lines.at(-1) ?? "", /^syn2mas: error: cannot connect to the MAS database .*\(fix: .*\)$/);
    assert.ok(!result.stderr.includes("    at "), "no stack trace");
    const json = JSON.parse(result.stdout) as { command: string; status: string; exitCode: number };
    assert.deepEqual([json.command, json.status, json.exitCode], ["verify", "error", 1]);
  });

  it("a real migration leaves exactly one record; a dry run leaves none", async () => {
    const records = await cluster.sql<{ n: number; v: string }>(
      scenario.masDb,
      "SELECT count(*)::int AS n, max(tool_version) AS v FROM syn2mas.migrations",
    );
    assert.deepEqual(records, [{ n: 1, v: "0.1.0" }]);
    const dry = await prepareScenario(cluster, "verify_dry", { synapseOverrides: GUESTS_OFF });
    const result = await runCli(["migrate", ...dry.configArgs, "--dry-run", "--accept-all-warnings"]);
    assert.equal(result.code, 0, describeRun(result));
    const schema = await cluster.sql<{ r: string | null }>(dry.masDb, "SELECT to_regnamespace('syn2mas')::text AS r");
    assert.deepEqual(schema, [{ r: null }]);
  });
});
