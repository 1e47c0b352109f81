/**
 * Issue 15's findings, through the built CLI on the SSO fixture (test/harness/sso-fixture.ts): the
 * users left with no way to log in, the SSO and password-module findings once a `--link` covers
 * them, collisions, a SOURCE matching nothing, and `--link-file` (its rows written, its users not
 * migrated reported, a bad row refused with nothing written).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { FIXTURE_PROVIDER_IDS, synapseSqliteDb } from "../harness/fixtures.ts";
import { scratchDir } from "../harness/scratch.ts";
import { copySqliteFixture, prepareSqliteScenario, writeSqlite } from "../harness/sqlite.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { localpartLinkedUsernames } from "../harness/links.ts";
import {
  prepareSsoScenario,
  SSO_PROVIDERS,
  SSO_SCENARIO_OPTIONS,
  ssoFixtureSql,
  ssoProvidersSql,
} from "../harness/sso-fixture.ts";
import { uuidToUlidText } from "../../src/model/ids.ts";
import type { FindingJson } from "../../src/cli/render.ts";

interface CheckJson {
  exitCode: number;
  findings: FindingJson[];
  wouldLink: Record<string, number> | null;
}

const SAML = SSO_PROVIDERS.saml;
const CAS = SSO_PROVIDERS.cas;
const LDAP = SSO_PROVIDERS.ldap;
const SAML_FLAG = `saml=${SAML.ulid}:dex:saml:{external_id}`;
const CAS_FLAG = `cas=${CAS.ulid}`;
const LOCALPART_FLAG = `localpart=${LDAP.ulid}:dex:ldap:{localpart}`;
const link = (...flags: string[]): string[] => flags.flatMap((f) => ["--link", f]);
/** The fixture's own warnings (guests, phone numbers), accepted so that the exit code comes from the finding under test. */
const ACCEPT_FIXTURE = ["--accept-warning", "GUEST_USERS", "--accept-warning", "NON_EMAIL_THREEPIDS"];
const HEADER = "user_id,provider,subject\n";

describe("the --link and --link-file findings on the SSO fixture", () => {
  let cluster: Cluster;
  let scenario: Scenario;
  let masBefore: string;

  before(async () => {
    cluster = await startCluster();
    scenario = await prepareSsoScenario(cluster, "link_findings");
    await cluster.sql(scenario.masDb, ssoProvidersSql());
    masBefore = await cluster.dump(scenario.masDb);
  });
  after(async () => {
    await cluster?.stop();
  });

  async function check(extra: string[]): Promise<{ run: CliResult; json: CheckJson }> {
    const run = await runCli(["check", ...scenario.configArgs, "--json", ...ACCEPT_FIXTURE, ...extra]);
    const json = JSON.parse(run.stdout) as CheckJson;
    assert.equal(json.exitCode, run.code);
    return { run, json };
  }
  const only = (json: CheckJson, code: string): FindingJson => {
    const found = json.findings.filter((f) => f.code === code);
    assert.equal(found.length, 1, `one ${code}: ${JSON.stringify(json.findings.map((f) => f.code))}`);
    return found[0] as FindingJson;
  };
  const absent = (json: CheckJson, code: string): void =>
    assert.deepEqual(
      json.findings.filter((f) => f.code === code),
      [],
    );
  function linkFile(name: string, text: string): string {
    const file = path.join(scenario.dir, name);
    writeFileSync(file, text);
    return file;
  }

  it("without --link: SAML, CAS, JWT and the LDAP module are warnings naming the --link to pass, and 7 users cannot log in", async () => {
    const { json } = await check([]);
    assert.match(only(json, "SAML_CONFIGURED").message, /--link saml=<its ULID>:dex:saml:\{external_id\}/);
    assert.equal(only(json, "SAML_CONFIGURED").severity, "warning");
    assert.match(only(json, "CAS_CONFIGURED").message, /--link cas=<its ULID>/);
    assert.match(only(json, "JWT_CONFIGURED").message, /--link localpart=<its ULID>\[:SUBJECT\]/);
    assert.match(only(json, "PASSWORD_PROVIDER").message, /--link localpart=<its ULID>:dex:ldap:\{localpart\}/);
    // The SAML and CAS users (no password; their provider is not linked) and the LDAP and JWT users; not the
    // deactivated SAML user, nor user0016 (a password and a SAML id).
    const withoutLogin = only(json, "USERS_WITHOUT_LOGIN");
    assert.equal(withoutLogin.severity, "warning");
    assert.equal(withoutLogin.count, 7);
    assert.deepEqual(withoutLogin.examples, [
      "@bob.smith:example.com",
      "@jane.doe=40corp.example:example.com",
      "@jwt.kim:example.com",
      "@ldap.ann:example.com",
      "@ldap.omer:example.com",
    ]);
  });

  it("with a --link per source: those four findings are information naming the flag, nobody is without a login, and check counts the links per SOURCE", async () => {
    const { run, json } = await check(link(SAML_FLAG, CAS_FLAG, LOCALPART_FLAG));
    assert.equal(run.code, 0, run.stderr);
    for (const [code, flag] of [
      ["SAML_CONFIGURED", SAML_FLAG],
      ["CAS_CONFIGURED", CAS_FLAG],
      ["JWT_CONFIGURED", LOCALPART_FLAG],
      ["PASSWORD_PROVIDER", LOCALPART_FLAG],
    ] as const) {
      const f = only(json, code);
      assert.equal(f.severity, "info", code);
      assert.ok(f.message.includes(`--link ${flag}`), `${code}: ${f.message}`);
    }
    absent(json, "USERS_WITHOUT_LOGIN");
    // localpart: every active user with no external id (the LDAP and JWT users, and the sample's password users).
    const localpart = (await localpartLinkedUsernames(cluster, scenario.synapseDb)).length;
    assert.ok(localpart > 3);
    assert.deepEqual(json.wouldLink, { cas: 2, localpart, "oidc-github": 3, "oidc-keycloak": 9, saml: 4 });
    assert.match(
      run.stderr,
      new RegExp(`Would link \\(upstream_oauth_links by source\\):\n(.*\n)*\\s+localpart\\s+${localpart}\n`),
    );
  });

  it("without --link localpart, the LDAP and JWT users are the ones left without a login; a --link-file row for one of them leaves two", async () => {
    const { json } = await check(link(SAML_FLAG, CAS_FLAG));
    assert.deepEqual(
      { count: only(json, "USERS_WITHOUT_LOGIN").count, examples: only(json, "USERS_WITHOUT_LOGIN").examples },
      { count: 3, examples: ["@jwt.kim:example.com", "@ldap.ann:example.com", "@ldap.omer:example.com"] },
    );
    const file = linkFile("ann.csv", `${HEADER}@ldap.ann:example.com,${LDAP.ulid},ann-in-keycloak\n`);
    const withFile = await check([...link(SAML_FLAG, CAS_FLAG), "--link-file", file]);
    assert.deepEqual(
      { count: only(withFile.json, "USERS_WITHOUT_LOGIN").count, examples: only(withFile.json, "USERS_WITHOUT_LOGIN").examples },
      { count: 2, examples: ["@jwt.kim:example.com", "@ldap.omer:example.com"] },
    );
    assert.equal(withFile.json.wouldLink?.["link-file"], 1);
  });

  it("LINK_COLLISION: a --link-file row giving another user a SAML user's subject on the same provider names both; migrate refuses, MAS unchanged", async () => {
    const file = linkFile("collide.csv", `${HEADER}@ldap.ann:example.com,${SAML.ulid},sarah\n`);
    const flags = [...link(`saml=${SAML.ulid}`, CAS_FLAG, LOCALPART_FLAG), "--link-file", file];
    const { run, json } = await check(flags);
    assert.equal(run.code, 10, run.stderr);
    const f = only(json, "LINK_COLLISION");
    assert.equal(f.severity, "error");
    assert.equal(f.count, 1);
    assert.deepEqual(f.examples, ["@ldap.ann:example.com and @sarah:example.com"]);
    assert.ok(f.message.includes(SAML.ulid) && f.message.includes(`--link saml=${SAML.ulid}`) && f.message.includes(file));
    const migrate = await runCli(["migrate", ...scenario.configArgs, ...ACCEPT_FIXTURE, ...flags]);
    assert.equal(migrate.code, 10, migrate.stderr);
    assert.match(migrate.stderr, /LINK_COLLISION/);
    assert.equal(await cluster.dump(scenario.masDb), masBefore);
  });

  it("LINK_COLLISION: a template without {external_id} for a user with two SAML ids links that user twice", async () => {
    await cluster.sql(
      scenario.synapseDb,
      "INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ('saml', 'sarah-2', '@sarah:example.com')",
    );
    try {
      const { run, json } = await check(link(`saml=${SAML.ulid}:{localpart}`, CAS_FLAG, LOCALPART_FLAG));
      assert.equal(run.code, 10, run.stderr);
      assert.deepEqual(only(json, "LINK_COLLISION").examples, ["@sarah:example.com twice"]);
      // With {external_id} in the template the same rows are fine.
      const fine = await check(link(`saml=${SAML.ulid}:{localpart}/{external_id}`, CAS_FLAG, LOCALPART_FLAG));
      absent(fine.json, "LINK_COLLISION");
    } finally {
      await cluster.sql(scenario.synapseDb, "DELETE FROM user_external_ids WHERE external_id = 'sarah-2'");
    }
  });

  it("LINK_COLLISION: a --link on the keycloak provider meets keycloak's own (mapped) subjects", async () => {
    const [kc] = await cluster.sql<{ external_id: string; user_id: string }>(
      scenario.synapseDb,
      "SELECT external_id, user_id FROM user_external_ids WHERE auth_provider = 'oidc-keycloak' ORDER BY external_id LIMIT 1",
    );
    assert.ok(kc);
    await cluster.sql(scenario.synapseDb, "UPDATE user_external_ids SET external_id = $1 WHERE external_id = 'Bob.Smith'", [
      kc.external_id,
    ]);
    try {
      const { json } = await check(link(SAML_FLAG, `cas=${uuidToUlidText(FIXTURE_PROVIDER_IDS.keycloak)}`, LOCALPART_FLAG));
      const f = only(json, "LINK_COLLISION");
      assert.deepEqual(f.examples, [[kc.user_id, "@bob.smith:example.com"].sort().join(" and ")]);
      assert.ok(f.message.includes("oidc-keycloak's external ids (synapse_idp_id)"), f.message);
    } finally {
      await cluster.sql(
        scenario.synapseDb,
        "UPDATE user_external_ids SET external_id = 'Bob.Smith' WHERE user_id = '@bob.smith:example.com'",
      );
    }
  });

  it("two mapped auth_providers sharing a subject on one provider no --link feeds stay DUPLICATE_ROWS's, reported once", async () => {
    const [kc] = await cluster.sql<{ external_id: string }>(
      scenario.synapseDb,
      "SELECT external_id FROM user_external_ids WHERE auth_provider = 'oidc-keycloak' ORDER BY external_id LIMIT 1",
    );
    const [gh] = await cluster.sql<{ external_id: string }>(
      scenario.synapseDb,
      "SELECT external_id FROM user_external_ids WHERE auth_provider = 'oidc-github' ORDER BY external_id LIMIT 1",
    );
    assert.ok(kc && gh);
    await cluster.sql(scenario.synapseDb, "UPDATE user_external_ids SET external_id = $1 WHERE external_id = $2", [
      kc.external_id,
      gh.external_id,
    ]);
    try {
      const mapping = ["--upstream-provider-mapping", `oidc-github:${uuidToUlidText(FIXTURE_PROVIDER_IDS.keycloak)}`];
      const { json } = await check([...link(SAML_FLAG, CAS_FLAG, LOCALPART_FLAG), ...mapping]);
      assert.match(only(json, "DUPLICATE_ROWS").message, /oidc-github and oidc-keycloak \(one MAS provider\): 2/);
      absent(json, "LINK_COLLISION");
    } finally {
      await cluster.sql(
        scenario.synapseDb,
        "UPDATE user_external_ids SET external_id = $1 WHERE auth_provider = 'oidc-github' AND external_id = $2",
        [gh.external_id, kc.external_id],
      );
    }
  });

  it("LINK_SOURCE_UNUSED: a SOURCE no external id has is a warning naming the flag", async () => {
    const { run, json } = await check(link(SAML_FLAG, CAS_FLAG, LOCALPART_FLAG, `oidc-gitlab=${LDAP.ulid}`));
    assert.equal(run.code, 11, run.stderr);
    const f = only(json, "LINK_SOURCE_UNUSED");
    assert.equal(f.severity, "warning");
    assert.deepEqual(f.examples, ["oidc-gitlab"]);
    assert.ok(f.message.includes(`--link oidc-gitlab=${LDAP.ulid} links nothing`), f.message);
    absent(json, "UNKNOWN_AUTH_PROVIDER");
  });

  it("--link-file: rows naming users not migrated are a warning with their lines; the dry run shows the file's links and writes nothing", async () => {
    const file = linkFile(
      "mixed.csv",
      HEADER +
        `@ldap.ann:example.com,${LDAP.ulid},kc-ann\n` +
        `@nobody:example.com,${LDAP.ulid},kc-nobody\n` +
        `@ldap.omer:other.example,${LDAP.ulid},kc-omer\n` +
        `@bridge_1:example.com,${LDAP.ulid},kc-bridge\n`,
    );
    const flags = [...link(SAML_FLAG, CAS_FLAG), "--link-file", file];
    const { json } = await check(flags);
    const f = only(json, "LINK_FILE_UNMIGRATED_USERS");
    assert.equal(f.count, 3);
    assert.deepEqual(f.examples, [
      "@nobody:example.com (line 3)",
      "@ldap.omer:other.example (line 4)",
      "@bridge_1:example.com (line 5)",
    ]);
    const dry = await runCli([
      "migrate",
      "--dry-run",
      ...scenario.configArgs,
      ...ACCEPT_FIXTURE,
      "--accept-warning",
      "LINK_FILE_UNMIGRATED_USERS",
      "--accept-warning",
      "USERS_WITHOUT_LOGIN",
      "--json",
      ...flags,
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    const report = (JSON.parse(dry.stdout) as { report: { links: Record<string, number> } }).report;
    assert.deepEqual(report.links, { cas: 2, "link-file": 1, "oidc-github": 3, "oidc-keycloak": 9, saml: 4 });
    assert.match(dry.stderr, /Upstream links by source \(upstream_oauth_links\):\n(.*\n)*\s+link-file\s+1\n/);
    assert.equal(await cluster.dump(scenario.masDb), masBefore);
  });

  it("--link-file with a bad row: one line naming the file and the line, exit 1, nothing written", async () => {
    const file = linkFile(
      "bad.csv",
      `${HEADER}@ldap.ann:example.com,${LDAP.ulid},kc-ann\n@ldap.omer:example.com,not-a-ulid,kc-omer\n`,
    );
    const run = await runCli(["migrate", ...scenario.configArgs, ...link(SAML_FLAG, CAS_FLAG), "--link-file", file]);
    assert.equal(run.code, 1);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0] as string,
      /^syn2mas: error: --link-file .*bad\.csv line 3: "not-a-ulid" is not a provider's 26-character ULID \(fix: /,
    );
    assert.equal(await cluster.dump(scenario.masDb), masBefore);
  });

  it("--link-file naming a provider MAS does not have is PROVIDER_NOT_SYNCED", async () => {
    const missing = "01JBZ3Q5K0V8W4YF8E2C9M7T6D";
    const file = linkFile("unsynced.csv", `${HEADER}@ldap.ann:example.com,${missing},kc-ann\n`);
    const { run, json } = await check([...link(SAML_FLAG, CAS_FLAG), "--link-file", file]);
    assert.equal(run.code, 10);
    const f = only(json, "PROVIDER_NOT_SYNCED");
    assert.ok(f.message.includes(missing) && f.message.includes(file), f.message);
  });

  it("migrate with --link-file writes its row as the user's link, and verify with the same flags finds every row equal", async () => {
    const file = linkFile("ann-only.csv", `${HEADER}@ldap.ann:example.com,${CAS.ulid},kc-ann\n`);
    const flags = [...link(SAML_FLAG, CAS_FLAG, LOCALPART_FLAG), "--link-file", file];
    const run = await runCli(["migrate", ...scenario.configArgs, ...ACCEPT_FIXTURE, ...flags]);
    assert.equal(run.code, 0, run.stderr);
    const links = await cluster.sql<{ provider: string; subject: string }>(
      scenario.masDb,
      `SELECT l.upstream_oauth_provider_id::text AS provider, l.subject FROM upstream_oauth_links l
         JOIN users u USING (user_id) WHERE u.username = 'ldap.ann' ORDER BY 1, 2`,
    );
    // Her LDAP link (--link localpart, Dex's subject) and the file's, on the CAS provider.
    assert.deepEqual(
      links.map((l) => l.provider),
      [LDAP.uuid, CAS.uuid].sort(),
    );
    assert.ok(links.some((l) => l.provider === CAS.uuid && l.subject === "kc-ann"));
    const verified = await runCli(["verify", ...scenario.configArgs, ...flags]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const without = await runCli(["verify", ...scenario.configArgs, ...link(SAML_FLAG, CAS_FLAG, LOCALPART_FLAG)]);
    assert.equal(without.code, 10, "verify without the file finds the file's link unexpected");
  });
});

describe("the --link and --link-file findings on the SQLite sample with the same users", () => {
  let cluster: Cluster;
  let scenario: Scenario;
  let db: string;

  before(async () => {
    cluster = await startCluster();
    db = copySqliteFixture(synapseSqliteDb, scratchDir("syn2mas-link-findings-sqlite-"));
    await writeSqlite(db, ssoFixtureSql());
    scenario = await prepareSqliteScenario(cluster, "link_findings_sqlite", db, SSO_SCENARIO_OPTIONS);
    await cluster.sql(scenario.masDb, ssoProvidersSql());
  });
  after(async () => {
    await cluster?.stop();
  });

  async function check(extra: string[]): Promise<CheckJson> {
    const run = await runCli(["check", ...scenario.configArgs, "--json", ...extra]);
    return JSON.parse(run.stdout) as CheckJson;
  }
  const codes = (json: CheckJson, code: string): FindingJson[] => json.findings.filter((f) => f.code === code);

  it("a template without {external_id} for a user with two SAML ids: LINK_COLLISION, read through SQLite", async () => {
    await writeSqlite(
      db,
      "INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ('saml', 'sarah-2', '@sarah:example.com');",
    );
    try {
      const json = await check(link(`saml=${SAML.ulid}:{localpart}`, CAS_FLAG, LOCALPART_FLAG));
      assert.deepEqual(
        codes(json, "LINK_COLLISION").map((f) => f.examples),
        [["@sarah:example.com twice"]],
      );
    } finally {
      await writeSqlite(db, "DELETE FROM user_external_ids WHERE external_id = 'sarah-2';");
    }
  });

  it("two sources on one provider whose subjects differ: no LINK_COLLISION", async () => {
    const json = await check(link(SAML_FLAG, `cas=${LDAP.ulid}:{localpart}`, `localpart=${LDAP.ulid}:{localpart}`));
    assert.deepEqual(codes(json, "LINK_COLLISION"), []);
    assert.deepEqual(
      json.findings.filter((f) => f.severity === "error"),
      [],
    );
  });

  it("--link-file: its unmigrated users are reported, and a user it links is no longer without a login", async () => {
    const flags = link(SAML_FLAG, CAS_FLAG);
    const before = codes(await check(flags), "USERS_WITHOUT_LOGIN")[0];
    assert.ok(before !== undefined);
    for (const user of ["@jwt.kim:example.com", "@ldap.ann:example.com", "@ldap.omer:example.com"]) {
      assert.ok(before.examples.includes(user), user);
    }
    const file = path.join(scenario.dir, "links.csv");
    writeFileSync(file, `${HEADER}@ldap.ann:example.com,${LDAP.ulid},kc-ann\n@nobody:example.com,${LDAP.ulid},kc-nobody\n`);
    const json = await check([...flags, "--link-file", file]);
    const after = codes(json, "USERS_WITHOUT_LOGIN")[0];
    assert.equal(after?.count, (before.count ?? 0) - 1);
    assert.ok(!after?.examples.includes("@ldap.ann:example.com"));
    assert.deepEqual(
      codes(json, "LINK_FILE_UNMIGRATED_USERS").map((f) => f.examples),
      [["@nobody:example.com (line 3)"]],
    );
    assert.equal(json.wouldLink?.["link-file"], 1);
  });
});
