/**
 * End-to-end: `syn2mas migrate` fed bad inputs. Every case must end with the right exit code, a readable
 * message (one `syn2mas: error: ... (fix: ...)` line for exit 1, the finding code for exit 10), no stack
 * trace, no secret from the configurations in its output, and not a single byte changed in either database.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FIXTURE_MAS_PROVIDERS, FIXTURE_MAS_SECRETS, FIXTURE_SECRETS } from "../harness/fixtures.ts";
import { freePort, startCluster } from "../harness/postgres.ts";
import { describeRun } from "../harness/background.ts";
import type { Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import type { CliResult, Scenario, ScenarioOptions } from "../harness/scenario.ts";
import { writeMasConfig, writeSynapseConfig } from "../harness/temp-config.ts";

/** A password for every database connection. The cluster trusts everyone, so it is accepted and never checked. */
const DB_PASSWORD = "db-pass-Zq81xv";

/** Secret values held by the configuration files (fixtures plus {@link DB_PASSWORD}): none may ever be printed. */
const SECRETS = [...FIXTURE_SECRETS, FIXTURE_MAS_SECRETS.matrix, FIXTURE_MAS_SECRETS.encryption, DB_PASSWORD];

const KEYCLOAK_PROVIDER = FIXTURE_MAS_PROVIDERS.keycloak;

describe("migrate refuses bad inputs without writing anything", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });

  after(async () => {
    await cluster?.stop();
  });

  /** `uri` with {@link DB_PASSWORD} (and optionally another user) filled in. */
  function withPassword(uri: string, user?: string): string {
    const url = new URL(uri);
    if (user !== undefined) url.username = user;
    url.password = DB_PASSWORD;
    return url.toString();
  }

  /** A closed TCP port on 127.0.0.1 (free a moment ago, nobody listens). */
  async function closedPortUri(db: string): Promise<string> {
    const port = await freePort();
    return `postgresql://postgres:${DB_PASSWORD}@127.0.0.1:${port}/${db}`;
  }

  /** A fresh scenario whose config files carry {@link DB_PASSWORD} in both database settings. */
  async function scenario(name: string, options: ScenarioOptions = {}): Promise<Scenario> {
    const s = await prepareScenario(cluster, name, options);
    await writeSynapseConfig(s.dir, {
      databaseUri: withPassword(cluster.uri(s.synapseDb)),
      overrides: { ...GUESTS_OFF, ...options.synapseOverrides },
    });
    await writeMasConfig(s.dir, { uri: withPassword(cluster.uri(s.masDb)), overrides: options.masOverrides });
    return s;
  }

  /**
   * Runs the CLI between two dumps of each database and asserts that none of them changed by a byte.
   * Holds no connection to any database while the CLI runs (dumps and `cluster.sql` connect per call).
   */
  async function runUnchanged(dbs: readonly string[], args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const unique = [...new Set(dbs)];
    const beforeDumps = await Promise.all(unique.map((db) => cluster.dump(db)));
    const result = await runCli(args, env);
    const afterDumps = await Promise.all(unique.map((db) => cluster.dump(db)));
    unique.forEach((db, i) => {
      assert.equal(
        afterDumps[i],
        beforeDumps[i],
        `database ${db} changed during: syn2mas ${args.join(" ")}\n${describeRun(result)}`,
      );
    });
    return result;
  }

  /** Both databases of a scenario, untouched by the run. */
  function runScenario(s: Scenario, extra: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return runUnchanged([s.synapseDb, s.masDb], ["migrate", ...s.configArgs, ...extra], env);
  }

  /** What to print when an assertion fails. */
  /** No stack trace and no configured secret anywhere in the output. */
  function assertClean(result: CliResult): void {
    for (const [name, text] of [
      ["stdout", result.stdout],
      ["stderr", result.stderr],
    ] as const) {
      assert.doesNotMatch(text, /^\s+at /m, `stack trace on ${name}\n${describeRun(result)}`);
      for (const secret of SECRETS) {
        assert.ok(!text.includes(secret), `secret ${secret} printed on ${name}\n${describeRun(result)}`);
      }
    }
  }

  /**
   * Exit 1 with one `syn2mas: error: <cause> (fix: <hint>)` line that mentions every `mentions` item
   * (the file, key, host, database... the cause names). Returns that line.
   */
  function assertToolError(result: CliResult, ...mentions: (string | RegExp)[]): string {
    assert.equal(result.code, 1, describeRun(result));
    assertClean(result);
    const errorLines = result.stderr.split("\n").filter((line) => line.includes("syn2mas: error:"));
    assert.equal(errorLines.length, 1, `expected exactly one "syn2mas: error:" line\n${describeRun(result)}`);
    const line = errorLines[0] as string;
    assert.match(line, /^syn2mas: error: .+ \(fix: .+\)$/, `the error line has a cause and a fix\n${describeRun(result)}`);
    assert.doesNotMatch(result.stderr, /internal error/, describeRun(result));
    for (const mention of mentions) {
      if (typeof mention === "string") assert.ok(line.includes(mention), `error line should name ${mention}: ${line}`);
      else assert.match(line, mention, `error line: ${line}`);
    }
    return line;
  }

  /** Exit 10 with an `ERROR CODE (count): message` finding for `code`. Returns the finding's first line. */
  function assertBlocked(result: CliResult, code: string, ...mentions: (string | RegExp)[]): string {
    assert.equal(result.code, 10, describeRun(result));
    assertClean(result);
    const line = result.stderr.split("\n").find((l) => new RegExp(`^ERROR ${code}( \\(\\d+\\))?: `).test(l));
    assert.ok(line !== undefined, `no ERROR ${code} finding\n${describeRun(result)}`);
    for (const mention of mentions) {
      if (typeof mention === "string") assert.ok(line.includes(mention), `finding should name ${mention}: ${line}`);
      else assert.match(line, mention, `finding: ${line}`);
    }
    return line;
  }

  // ---------------------------------------------------------------- configuration files

  it("a missing Synapse configuration file: exit 1 naming the file", async () => {
    const s = await scenario("missing-synapse-config");
    const missing = join(s.dir, "no-such-homeserver.yaml");
    const result = await runUnchanged([s.synapseDb, s.masDb], ["migrate", "--config", s.masConfig, "--synapse-config", missing]);
    assertToolError(result, missing, /does not exist/);
  });

  it("a missing MAS configuration file: exit 1 naming the file", async () => {
    const s = await scenario("missing-mas-config");
    const missing = join(s.dir, "no-such-mas.yaml");
    const result = await runUnchanged(
      [s.synapseDb, s.masDb],
      ["migrate", "--config", missing, "--synapse-config", s.synapseConfig],
    );
    assertToolError(result, missing, /does not exist/);
  });

  it("malformed YAML in the Synapse configuration: exit 1 naming file and line, without echoing the line", async () => {
    const s = await scenario("malformed-synapse-yaml");
    const bad = join(s.dir, "broken-homeserver.yaml");
    // An unclosed quote on the line holding the pepper: the parser's code frame would print it.
    await writeFile(bad, 'server_name: "example.com"\npassword_config:\n  pepper: "peppery-pepper-123\n  enabled: true\n');
    const result = await runUnchanged([s.synapseDb, s.masDb], ["migrate", "--config", s.masConfig, "--synapse-config", bad]);
    assertToolError(result, bad, /YAML/);
  });

  it("malformed YAML in the MAS configuration: exit 1 naming the file, without echoing the line", async () => {
    const s = await scenario("malformed-mas-yaml");
    const bad = join(s.dir, "broken-mas.yaml");
    await writeFile(bad, "matrix:\n  homeserver: example.com\n  secret: [0123456789abcdef0123456789abcdef\nsecrets: {\n");
    const result = await runUnchanged([s.synapseDb, s.masDb], ["migrate", "--config", bad, "--synapse-config", s.synapseConfig]);
    assertToolError(result, bad, /YAML/);
  });

  it("a Synapse configuration without server_name: exit 1 naming the key", async () => {
    const s = await scenario("no-server-name", { synapseOverrides: { server_name: undefined } });
    const result = await runScenario(s, []);
    assertToolError(result, "server_name", s.synapseConfig);
  });

  it("a Synapse configuration directory without any *.yaml: exit 1 naming the directory", async () => {
    const s = await scenario("empty-config-dir");
    const dir = scratchDir("syn2mas-bad-empty-dir-");
    await writeFile(join(dir, "homeserver.yml.bak"), "server_name: example.com\n");
    const result = await runUnchanged([s.synapseDb, s.masDb], ["migrate", "--config", s.masConfig, "--synapse-config", dir]);
    assertToolError(result, dir, /\.yaml/);
  });

  // ---------------------------------------------------------------- connections

  it("an unreachable Synapse database (closed port): exit 1 naming host and port", async () => {
    const s = await scenario("synapse-unreachable");
    const uri = await closedPortUri(s.synapseDb);
    const port = new URL(uri).port;
    await writeSynapseConfig(s.dir, { databaseUri: uri });
    const result = await runScenario(s, []);
    assertToolError(result, /Synapse database/, `127.0.0.1:${port}`, /connection refused/, s.synapseConfig);
  });

  it("an unreachable MAS database (closed port): exit 1 naming host and port", async () => {
    const s = await scenario("mas-unreachable");
    const uri = await closedPortUri(s.masDb);
    const port = new URL(uri).port;
    await writeMasConfig(s.dir, { uri });
    const result = await runScenario(s, []);
    assertToolError(result, /MAS database/, `127.0.0.1:${port}`, /connection refused/, s.masConfig);
  });

  it("a Synapse database that does not exist: exit 1 saying so", async () => {
    const s = await scenario("synapse-no-such-db");
    await writeSynapseConfig(s.dir, { databaseUri: withPassword(cluster.uri("no_such_synapse_db")) });
    const result = await runScenario(s, []);
    assertToolError(result, /Synapse database/, "no_such_synapse_db", /database does not exist/);
  });

  it("a MAS database that does not exist: exit 1 saying so", async () => {
    const s = await scenario("mas-no-such-db");
    await writeMasConfig(s.dir, { uri: withPassword(cluster.uri("no_such_mas_db")) });
    const result = await runScenario(s, []);
    assertToolError(result, /MAS database/, "no_such_mas_db", /database does not exist/);
  });

  it("a database role that does not exist: exit 1 saying the role does not exist", {}, async () => {
    const s = await scenario("no-such-role");
    await writeSynapseConfig(s.dir, { databaseUri: withPassword(cluster.uri(s.synapseDb), "no_such_role") });
    const result = await runScenario(s, []);
    assertToolError(result, /Synapse database/, "no_such_role", /role .*does not exist|does not exist.*role|no such role/i);
  });

  // ---------------------------------------------------------------- MAS database state

  it("an empty (unmigrated) MAS database: exit 10 MAS_SCHEMA_MISSING", async () => {
    const s = await scenario("mas-unmigrated");
    const empty = `${s.masDb}_empty`;
    await cluster.createDatabase(empty);
    await writeMasConfig(s.dir, { uri: withPassword(cluster.uri(empty)) });
    const result = await runUnchanged([s.synapseDb, s.masDb, empty], ["migrate", ...s.configArgs]);
    assertBlocked(result, "MAS_SCHEMA_MISSING", /_sqlx_migrations/);
  });

  it("the Synapse database given as the MAS database: exit 10 MAS_SCHEMA_MISSING", async () => {
    const s = await scenario("mas-is-synapse");
    await writeMasConfig(s.dir, { uri: withPassword(cluster.uri(s.synapseDb)) });
    const result = await runScenario(s, ["--dry-run"]);
    assertBlocked(result, "MAS_SCHEMA_MISSING");
  });

  it("a MAS schema without compat_sessions.human_name: exit 10 MAS_SCHEMA_UNSUPPORTED naming it", async () => {
    const s = await scenario("mas-missing-column");
    await cluster.sql(s.masDb, "ALTER TABLE compat_sessions DROP COLUMN human_name");
    const result = await runScenario(s, []);
    assertBlocked(result, "MAS_SCHEMA_UNSUPPORTED", "compat_sessions.human_name");
  });

  it("a MAS database that already holds a user: exit 10 MAS_NOT_EMPTY naming the table", async () => {
    const s = await scenario("mas-not-empty");
    await cluster.sql(
      s.masDb,
      "INSERT INTO users (user_id, username, created_at) VALUES ('0196a1b2-0000-7000-8000-000000000001', 'squatter', now())",
    );
    const result = await runScenario(s, []);
    assertBlocked(result, "MAS_NOT_EMPTY", /users \(1 rows?\)/);
  });

  // ---------------------------------------------------------------- configurations against each other

  it("MAS matrix.homeserver differs from Synapse server_name: exit 10 SERVER_NAME_MISMATCH", async () => {
    const s = await scenario("server-name-mismatch", {
      masOverrides: {
        matrix: {
          kind: "synapse",
          homeserver: "other.example",
          endpoint: "http://127.0.0.1:8008/",
          secret: "0123456789abcdef0123456789abcdef",
        },
      },
    });
    const result = await runScenario(s, []);
    assertBlocked(result, "SERVER_NAME_MISMATCH", "other.example", "example.com");
  });

  it("an auth_provider without a MAS provider: exit 10 PROVIDER_NOT_IN_MAS naming the key to add", async () => {
    const s = await scenario("provider-not-in-mas", { masOverrides: { upstream_oauth2: { providers: [KEYCLOAK_PROVIDER] } } });
    const result = await runScenario(s, []);
    assertBlocked(result, "PROVIDER_NOT_IN_MAS", "synapse_idp_id: oidc-github");
  });

  it("MAS providers configured but never synced: exit 10 PROVIDER_NOT_SYNCED", async () => {
    const s = await scenario("provider-not-synced", { providers: false });
    const result = await runScenario(s, []);
    assertBlocked(result, "PROVIDER_NOT_SYNCED", /mas-cli config sync/);
  });

  it("a database engine Synapse does not have: exit 10 UNSUPPORTED_DATABASE", async () => {
    const s = await scenario("mysql-engine", {
      synapseOverrides: { database: { name: "mysql", args: { database: "synapse" } } },
    });
    const result = await runScenario(s, []);
    assertBlocked(result, "UNSUPPORTED_DATABASE", /mysql/, /sqlite3/);
  });

  it("a sqlite3 database file that does not exist: exit 1 naming the file and the key", async () => {
    const s = await scenario("sqlite-missing", {
      synapseOverrides: { database: { name: "sqlite3", args: { database: "/nonexistent/homeserver.db" } } },
    });
    const result = await runScenario(s, []);
    assertToolError(result, "/nonexistent/homeserver.db", "no such file", "database.args.database");
  });

  // ---------------------------------------------------------------- Synapse database content

  it("a Synapse database that is not Synapse's: exit 10 SYNAPSE_SCHEMA_UNSUPPORTED", async () => {
    const s = await scenario("synapse-not-synapse");
    const empty = `${s.synapseDb}_empty`;
    await cluster.createDatabase(empty);
    const result = await runUnchanged(
      [s.synapseDb, s.masDb, empty],
      ["migrate", ...s.configArgs, "--synapse-database-uri", withPassword(cluster.uri(empty))],
    );
    assertBlocked(result, "SYNAPSE_SCHEMA_UNSUPPORTED", /users/);
  });

  it("a threepid of a user on another server: exit 10 FOREIGN_USER_IDS, then --skip-invalid-rows migrates", async () => {
    const s = await scenario("foreign-user-ids");
    await cluster.sql(
      s.synapseDb,
      "INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES ('@eve:evil.example', 'email', 'eve@evil.example', 1700000000000, 1700000000000)",
    );
    const blocked = await runScenario(s, []);
    assertBlocked(blocked, "FOREIGN_USER_IDS", "user_threepids");
    assert.match(blocked.stderr, /@eve:evil\.example/, describeRun(blocked));

    // Skipping: MAS is written, Synapse still is not.
    const synapseBefore = await cluster.dump(s.synapseDb);
    const done = await runCli(["migrate", ...s.configArgs, "--skip-invalid-rows", "--json"]);
    assert.equal(await cluster.dump(s.synapseDb), synapseBefore, "the Synapse database changed");
    assert.equal(done.code, 0, describeRun(done));
    assertClean(done);
    const json = JSON.parse(done.stdout) as {
      status: string;
      dryRun: boolean;
      exitCode: number;
      findings: { code: string; severity: string; count?: number }[];
      report: { skipped: Record<string, Record<string, number>> } | null;
    };
    assert.equal(json.status, "done");
    assert.equal(json.dryRun, false);
    assert.equal(json.exitCode, 0);
    const foreign = json.findings.find((f) => f.code === "FOREIGN_USER_IDS");
    assert.ok(foreign !== undefined, done.stdout);
    assert.notEqual(foreign.severity, "error");
    assert.equal(foreign.count, 1);
    assert.equal(json.report?.skipped.emails?.foreign_user_id, 1, done.stdout);
    const users = await cluster.sql<{ n: string }>(s.masDb, "SELECT count(*) AS n FROM users");
    assert.equal(Number(users[0]?.n), 47);
    const eve = await cluster.sql(s.masDb, "SELECT 1 FROM user_emails WHERE email = 'eve@evil.example'");
    assert.equal(eve.length, 0);
  });

  it("a device of a user without a users row: exit 10 ORPHAN_ROWS", async () => {
    const s = await scenario("orphan-rows");
    await cluster.sql(
      s.synapseDb,
      "INSERT INTO devices (user_id, device_id, display_name) VALUES ('@ghost:example.com', 'GHOSTDEV', 'ghost phone')",
    );
    const result = await runScenario(s, []);
    assertBlocked(result, "ORPHAN_ROWS", "devices");
    assert.match(result.stderr, /@ghost:example\.com/, describeRun(result));
    assert.doesNotMatch(result.stderr, /^users: started/m, `errors block before any phase starts\n${describeRun(result)}`);
  });

  it("the same on one Synapse connection (no checks in the background at all): exit 10 ORPHAN_ROWS", async () => {
    const s = await scenario("orphan-rows-one-connection");
    await cluster.sql(
      s.synapseDb,
      "INSERT INTO devices (user_id, device_id, display_name) VALUES ('@ghost:example.com', 'GHOSTDEV', 'ghost phone')",
    );
    const result = await runScenario(s, ["--synapse-connections", "1"]);
    assertBlocked(result, "ORPHAN_ROWS", "devices");
    assert.doesNotMatch(result.stderr, /^users: started/m, `no phase started\n${describeRun(result)}`);
  });

  // ---------------------------------------------------------------- command line

  it("a malformed --upstream-provider-mapping: exit 1 quoting the flag", async () => {
    const s = await scenario("bad-provider-mapping");
    const result = await runScenario(s, ["--upstream-provider-mapping", "oidc-github=not-a-ulid"]);
    assertToolError(result, "--upstream-provider-mapping", "oidc-github=not-a-ulid");
  });

  it("an unknown command-line option: exit 1 naming it", async () => {
    const s = await scenario("unknown-option");
    const result = await runScenario(s, ["--frobnicate"]);
    assertToolError(result, "--frobnicate");
  });
});
