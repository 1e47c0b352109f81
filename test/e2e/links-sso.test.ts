/**
 * Issue 15's fixture: a copy of each Synapse sample with SAML and CAS users, LDAP-module and JWT users added
 * as Synapse writes them (test/harness/sso-fixture.ts), migrated with one `--link` per source, each on
 * a MAS provider of its own. Every link is checked row by row against the rows read back from Synapse;
 * Dex's subject is encoded here independently of src/model/dex-subject.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { FIXTURE_PROVIDER_IDS, synapseSqliteDb } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { copySqliteFixture, prepareSqliteScenario, readSqlite, writeSqlite } from "../harness/sqlite.ts";
import {
  prepareSsoScenario,
  SAML_ON_PASSWORD_USER,
  SSO_FIXTURE_USERS,
  SSO_PROVIDERS,
  SSO_SCENARIO_OPTIONS,
  ssoFixtureSql,
  ssoProvidersSql,
} from "../harness/sso-fixture.ts";

const LINK_FLAGS = [
  "--link",
  `saml=${SSO_PROVIDERS.saml.ulid}:dex:saml:{external_id}`,
  "--link",
  `cas=${SSO_PROVIDERS.cas.ulid}`,
  "--link",
  `localpart=${SSO_PROVIDERS.ldap.ulid}:dex:ldap:{localpart}`,
];

/**
 * Dex's `sub`: protobuf `{1: user id, 2: connector id}`, base64url without padding. Written out byte by
 * byte for the short values of this fixture (one-byte lengths), so that it checks the tool's encoder.
 */
function dexSub(userId: string, connector: string): string {
  const field = (tag: number, text: string): Buffer => {
    const bytes = Buffer.from(text, "utf8");
    assert.ok(bytes.length < 128, "one-byte protobuf length");
    return Buffer.concat([Buffer.from([tag, bytes.length]), bytes]);
  };
  return Buffer.concat([field(0x0a, userId), field(0x12, connector)]).toString("base64url");
}

interface SynapseUserRow {
  name: string;
  is_guest: number;
  deactivated: number;
  appservice_id: string | null;
}
interface SynapseExternalIdRow {
  auth_provider: string;
  external_id: string;
  user_id: string;
}
interface Finding {
  code: string;
  severity: string;
  count: number | null;
  examples: string[];
}
interface MasLink {
  provider: string;
  subject: string;
  username: string;
}

const localpartOf = (userId: string): string => userId.slice(1, userId.indexOf(":"));
const bySubject = (a: MasLink, b: MasLink): number => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0);

/** The rows the tool reads, as one engine or the other stores them. */
interface SynapseRows {
  users: SynapseUserRow[];
  externalIds: SynapseExternalIdRow[];
}

const USERS_SQL = "SELECT name, is_guest, deactivated, appservice_id FROM users ORDER BY name";
const EXTERNAL_IDS_SQL = "SELECT auth_provider, external_id, user_id FROM user_external_ids ORDER BY auth_provider, external_id";

/** The assertions, the same for both samples: `setup` prepares the scenario and returns Synapse's rows. */
function linkSuite(engine: string, setup: (cluster: Cluster) => Promise<{ scenario: Scenario; synapse: SynapseRows }>): void {
  describe(`migrate --link saml, cas and localpart on the ${engine} sample with SSO and LDAP users`, () => {
    let cluster: Cluster;
    let scenario: Scenario;
    let synapse: SynapseRows;
    let run: CliResult;
    let masLinks: MasLink[];
    // Before the migration: check, a migration without --link and a dry run, each with MAS's fingerprint after it.
    let checked: CliResult;
    let unlinked: CliResult;
    let dryRun: CliResult;
    let masBefore: string;
    let masAfterUnlinked: string;
    let masAfterDryRun: string;
    before(async () => {
      cluster = await startCluster();
      ({ scenario, synapse } = await setup(cluster));
      await cluster.sql(scenario.masDb, ssoProvidersSql());
      masBefore = await cluster.dump(scenario.masDb);
      checked = await runCli(["check", ...scenario.configArgs, ...LINK_FLAGS, "--json"]);
      unlinked = await runCli(["migrate", ...scenario.configArgs, "--json"]);
      masAfterUnlinked = await cluster.dump(scenario.masDb);
      dryRun = await runCli(["migrate", "--dry-run", ...scenario.configArgs, ...LINK_FLAGS, "--json"]);
      masAfterDryRun = await cluster.dump(scenario.masDb);
      run = await runCli(["migrate", ...scenario.configArgs, ...LINK_FLAGS]);
      masLinks = await cluster.sql<MasLink>(
        scenario.masDb,
        `SELECT l.upstream_oauth_provider_id::text AS provider, l.subject, u.username
           FROM upstream_oauth_links l JOIN users u USING (user_id) ORDER BY 1, 2`,
      );
    });
    after(async () => {
      await cluster?.stop();
    });

    const linksOn = (providerId: string): MasLink[] => masLinks.filter((l) => l.provider === providerId).sort(bySubject);
    const externalIdsOf = (authProvider: string): SynapseExternalIdRow[] =>
      synapse.externalIds.filter((e) => e.auth_provider === authProvider);

    it("check with the --link flags finds no error: saml and cas are known and linked (exit 11: warnings only)", () => {
      const json = JSON.parse(checked.stdout) as { exitCode: number; verdict: { errors: number }; findings: Finding[] };
      assert.equal(checked.code, 11, checked.stderr);
      assert.equal(json.verdict.errors, 0);
      assert.deepEqual(
        json.findings.filter((f) => f.severity === "error"),
        [],
      );
    });

    it("migrate without --link refuses (exit 10): the SAML and CAS external ids have no MAS provider; MAS unchanged", () => {
      const json = JSON.parse(unlinked.stdout) as { exitCode: number; findings: Finding[] };
      assert.equal(unlinked.code, 10, unlinked.stderr);
      assert.deepEqual(
        json.findings
          .filter((f) => f.code === "PROVIDER_NOT_IN_MAS")
          .map((f) => ({ examples: f.examples, count: f.count }))
          .sort((a, b) => (a.count ?? 0) - (b.count ?? 0)),
        [
          { examples: ["cas"], count: externalIdsOf("cas").length },
          { examples: ["saml"], count: externalIdsOf("saml").length },
        ],
      );
      assert.equal(masAfterUnlinked, masBefore);
    });

    it("the dry run with the --link flags counts every link it would write, and leaves MAS as it was", () => {
      const json = JSON.parse(dryRun.stdout) as {
        dryRun: boolean;
        exitCode: number;
        report: { written: Record<string, number> };
      };
      assert.equal(dryRun.code, 0, dryRun.stderr);
      assert.equal(json.dryRun, true);
      assert.equal(json.report.written.upstream_oauth_links, masLinks.length);
      assert.equal(masAfterDryRun, masBefore);
    });

    it("migrates (exit 0)", () => {
      assert.equal(run.code, 0, run.stderr);
    });

    it("the copy holds the fixture's rows: SAML ids (one non-ASCII, one of a deactivated user, one of a password user), CAS ids, LDAP and JWT users", () => {
      const saml = externalIdsOf("saml");
      assert.deepEqual(saml.map((e) => e.external_id).sort(), ["gone.saml", "sarah", "user0016", "zoë.müller"]);
      assert.deepEqual(
        externalIdsOf("cas").map((e) => e.external_id),
        ["Bob.Smith", "jane.doe@corp.example"],
      );
      const noPassword = synapse.users.filter((u) => u.name.startsWith("@ldap.") || u.name.startsWith("@jwt."));
      assert.deepEqual(
        noPassword.map((u) => u.name),
        ["@jwt.kim:example.com", "@ldap.ann:example.com", "@ldap.omer:example.com"],
      );
    });

    it("links every SAML external id on the SAML provider with Dex's subject for the saml connector, the deactivated user's too", () => {
      const expected = externalIdsOf("saml")
        .map((e) => ({
          provider: SSO_PROVIDERS.saml.uuid,
          subject: dexSub(e.external_id, "saml"),
          username: localpartOf(e.user_id),
        }))
        .sort(bySubject);
      assert.equal(expected.length, 4);
      assert.deepEqual(linksOn(SSO_PROVIDERS.saml.uuid), expected);
      // Spelled out for the two that are easy to get wrong: UTF-8 bytes in the length, and the escaped localpart.
      assert.ok(
        expected.some((l) => l.username === "zo=c3=ab.m=c3=bcller" && l.subject === "Cgx6b8OrLm3DvGxsZXISBHNhbWw"),
        JSON.stringify(expected),
      );
    });

    it("the deactivated SAML user is migrated deactivated, with its link (the external-id rule links deactivated users' ids)", async () => {
      const [gone] = await cluster.sql<{ deactivated: boolean; links: number }>(
        scenario.masDb,
        `SELECT u.deactivated_at IS NOT NULL AS deactivated,
                (SELECT count(*)::int FROM upstream_oauth_links l WHERE l.user_id = u.user_id) AS links
           FROM users u WHERE u.username = 'gone.saml'`,
      );
      assert.deepEqual(gone, { deactivated: true, links: 1 });
    });

    it("the password user with a SAML id keeps its password and gets the SAML link, no LDAP one", async () => {
      const username = localpartOf(SAML_ON_PASSWORD_USER.userId);
      const [row] = await cluster.sql<{ passwords: number; providers: string[] }>(
        scenario.masDb,
        `SELECT (SELECT count(*)::int FROM user_passwords p WHERE p.user_id = u.user_id) AS passwords,
                ARRAY(SELECT l.upstream_oauth_provider_id::text FROM upstream_oauth_links l WHERE l.user_id = u.user_id) AS providers
           FROM users u WHERE u.username = $1`,
        [username],
      );
      assert.deepEqual(row, { passwords: 1, providers: [SSO_PROVIDERS.saml.uuid] });
    });

    it("links every CAS external id on the CAS provider with the CAS user name itself", () => {
      const expected = externalIdsOf("cas")
        .map((e) => ({ provider: SSO_PROVIDERS.cas.uuid, subject: e.external_id, username: localpartOf(e.user_id) }))
        .sort(bySubject);
      assert.deepEqual(linksOn(SSO_PROVIDERS.cas.uuid), expected);
      assert.ok(expected.some((l) => l.subject === "jane.doe@corp.example" && l.username === "jane.doe=40corp.example"));
      assert.ok(expected.some((l) => l.subject === "Bob.Smith" && l.username === "bob.smith"));
    });

    it("links exactly the users with no external id who are not guests, deactivated or an application service's, on the LDAP provider", () => {
      const withExternalId = new Set(synapse.externalIds.map((e) => e.user_id));
      const expected = synapse.users
        .filter((u) => u.is_guest === 0 && u.deactivated === 0 && u.appservice_id === null && !withExternalId.has(u.name))
        .map((u) => ({
          provider: SSO_PROVIDERS.ldap.uuid,
          subject: dexSub(localpartOf(u.name), "ldap"),
          username: localpartOf(u.name),
        }))
        .sort(bySubject);
      const linked = linksOn(SSO_PROVIDERS.ldap.uuid);
      assert.deepEqual(linked, expected);
      const usernames = new Set(linked.map((l) => l.username));
      for (const user of ["ldap.ann", "ldap.omer", "jwt.kim"]) assert.ok(usernames.has(user), user);
      // Not linked: the SSO users (external ids), the deactivated, the guests, the bridge's users.
      for (const user of SSO_FIXTURE_USERS.filter((u) => u.external.length > 0))
        assert.ok(!usernames.has(user.localpart), user.localpart);
      for (const u of synapse.users.filter((u) => u.is_guest !== 0 || u.deactivated !== 0 || u.appservice_id !== null)) {
        assert.ok(!usernames.has(localpartOf(u.name)), u.name);
      }
      assert.ok(!usernames.has(localpartOf(SAML_ON_PASSWORD_USER.userId)));
    });

    it("leaves the Keycloak and GitHub links as they were: the external id itself, on their providers", () => {
      for (const [authProvider, providerId] of [
        ["oidc-keycloak", FIXTURE_PROVIDER_IDS.keycloak],
        ["oidc-github", FIXTURE_PROVIDER_IDS.github],
      ] as const) {
        const expected = externalIdsOf(authProvider)
          .map((e) => ({ provider: providerId, subject: e.external_id, username: localpartOf(e.user_id) }))
          .sort(bySubject);
        assert.ok(expected.length > 0, authProvider);
        assert.deepEqual(linksOn(providerId), expected);
      }
    });

    it("writes no other link: one per external id and one per localpart user", () => {
      const providers = new Set([...Object.values(SSO_PROVIDERS).map((p) => p.uuid), ...Object.values(FIXTURE_PROVIDER_IDS)]);
      assert.deepEqual(
        masLinks.filter((l) => !providers.has(l.provider)),
        [],
      );
      const localpartLinks = linksOn(SSO_PROVIDERS.ldap.uuid).length;
      assert.equal(masLinks.length, synapse.externalIds.length + localpartLinks);
    });

    it("verify with the same --link flags finds every row equal (exit 0)", async () => {
      const verified = await runCli(["verify", ...scenario.configArgs, ...LINK_FLAGS]);
      assert.equal(verified.code, 0, verified.stderr);
    });

    it("verify with another subject for the CAS links finds them different (exit 10)", async () => {
      const flags = LINK_FLAGS.map((flag) => (flag.startsWith("cas=") ? `${flag}:cas|{external_id}` : flag));
      const verified = await runCli(["verify", ...scenario.configArgs, ...flags]);
      assert.equal(verified.code, 10, verified.stdout + verified.stderr);
    });
  });
}

linkSuite("PostgreSQL", async (cluster) => {
  const scenario = await prepareSsoScenario(cluster, "links_sso");
  return {
    scenario,
    synapse: {
      users: await cluster.sql<SynapseUserRow>(scenario.synapseDb, USERS_SQL),
      externalIds: await cluster.sql<SynapseExternalIdRow>(scenario.synapseDb, EXTERNAL_IDS_SQL),
    },
  };
});

linkSuite("SQLite", async (cluster) => {
  const db = copySqliteFixture(synapseSqliteDb, scratchDir("syn2mas-links-sso-sqlite-"));
  await writeSqlite(db, ssoFixtureSql());
  const scenario = await prepareSqliteScenario(cluster, "links_sso_sqlite", db, SSO_SCENARIO_OPTIONS);
  return {
    scenario,
    synapse: {
      users: await readSqlite<SynapseUserRow>(db, USERS_SQL),
      externalIds: await readSqlite<SynapseExternalIdRow>(db, EXTERNAL_IDS_SQL),
    },
  };
});
