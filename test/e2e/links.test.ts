/**
 * `--link` (issue 15): an auth_provider's external ids linked to a MAS provider with the subject the
 * rule's template makes, here Dex's encoding, checked row by row against Synapse's own rows.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { dexSubject } from "../../src/model/dex-subject.ts";
import { uuidToUlidText } from "../../src/model/ids.ts";
import { FIXTURE_PROVIDER_IDS } from "../harness/fixtures.ts";
import { localpartLinkedUsernames, masLinksOn } from "../harness/links.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type Scenario } from "../harness/scenario.ts";

const GITHUB_ULID = uuidToUlidText(FIXTURE_PROVIDER_IDS.github);

describe("migrate --link oidc-github=ULID:dex:github:{external_id}", () => {
  let cluster: Cluster;
  let scenario: Scenario;
  let synapseLinks: { auth_provider: string; external_id: string; username: string }[];
  let exitCode: number | null;
  let stderr: string;
  before(async () => {
    cluster = await startCluster();
    scenario = await prepareScenario(cluster, "links", { synapseOverrides: GUESTS_OFF });
    synapseLinks = await cluster.sql(
      scenario.synapseDb,
      `SELECT auth_provider, external_id, substr(user_id, 2, strpos(user_id, ':') - 2) AS username
         FROM user_external_ids ORDER BY auth_provider, external_id`,
    );
    const run = await runCli([
      "migrate",
      ...scenario.configArgs,
      "--link",
      `oidc-github=${GITHUB_ULID}:dex:github:{external_id}`,
    ]);
    exitCode = run.code;
    stderr = run.stderr;
  });
  after(async () => {
    await cluster.stop();
  });

  it("migrates", () => {
    assert.equal(exitCode, 0, stderr);
  });

  it("links each github external id with Dex's subject for the github connector, on the github provider", async () => {
    const masLinks = await cluster.sql<{ provider: string; subject: string; username: string }>(
      scenario.masDb,
      `SELECT l.upstream_oauth_provider_id::text AS provider, l.subject, u.username
         FROM upstream_oauth_links l JOIN users u USING (user_id) ORDER BY 1, 2`,
    );
    const github = synapseLinks.filter((l) => l.auth_provider === "oidc-github");
    assert.ok(github.length > 0, "the fixture has github external ids");
    const expected = github
      .map((l) => ({ provider: FIXTURE_PROVIDER_IDS.github, subject: dexSubject(l.external_id, "github"), username: l.username }))
      .sort((a, b) => (a.subject < b.subject ? -1 : 1));
    assert.deepEqual(
      masLinks.filter((l) => l.provider === FIXTURE_PROVIDER_IDS.github).sort((a, b) => (a.subject < b.subject ? -1 : 1)),
      expected,
    );
  });

  it("leaves the keycloak links as they were: the external id itself", async () => {
    const masLinks = await cluster.sql<{ subject: string; username: string }>(
      scenario.masDb,
      `SELECT l.subject, u.username FROM upstream_oauth_links l JOIN users u USING (user_id)
        WHERE l.upstream_oauth_provider_id = '${FIXTURE_PROVIDER_IDS.keycloak}' ORDER BY 1`,
    );
    assert.deepEqual(
      masLinks,
      synapseLinks
        .filter((l) => l.auth_provider === "oidc-keycloak")
        .map((l) => ({ subject: l.external_id, username: l.username }))
        .sort((a, b) => (a.subject < b.subject ? -1 : 1)),
    );
  });

  it("verify with the same --link finds every row equal", async () => {
    const run = await runCli(["verify", ...scenario.configArgs, "--link", `oidc-github=${GITHUB_ULID}:dex:github:{external_id}`]);
    assert.equal(run.code, 0, run.stderr);
  });

  it("a malformed --link is one line naming the flag, exit 1", async () => {
    const run = await runCli(["check", ...scenario.configArgs, "--link", "oidc-github=nope"]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, /--link "oidc-github=nope": "nope" is not a provider's 26-character ULID/);
  });
});

describe("migrate --link localpart=ULID:ldap|{localpart}", () => {
  let cluster: Cluster;
  let scenario: Scenario;
  before(async () => {
    cluster = await startCluster();
    scenario = await prepareScenario(cluster, "links_localpart", { synapseOverrides: GUESTS_OFF });
  });
  after(async () => {
    await cluster.stop();
  });

  it("links exactly the users with no external id who are not guests, deactivated or an application service's", async () => {
    const run = await runCli(["migrate", ...scenario.configArgs, "--link", `localpart=${GITHUB_ULID}:ldap|{localpart}`]);
    assert.equal(run.code, 0, run.stderr);
    const expected = await localpartLinkedUsernames(cluster, scenario.synapseDb);
    assert.ok(expected.length > 0, "the fixture has such users");
    // The github provider holds the github ids' links too: the localpart ones are those the template marks.
    const linked = (await masLinksOn(cluster, scenario.masDb, FIXTURE_PROVIDER_IDS.github)).filter((l) =>
      l.subject.startsWith("ldap|"),
    );
    assert.deepEqual(
      linked,
      expected.map((username) => ({ username, subject: `ldap|${username}` })),
    );
    const verified = await runCli(["verify", ...scenario.configArgs, "--link", `localpart=${GITHUB_ULID}:ldap|{localpart}`]);
    assert.equal(verified.code, 0, verified.stderr);
  });
});

describe("--link to a provider MAS does not have", () => {
  let cluster: Cluster;
  let scenario: Scenario;
  before(async () => {
    cluster = await startCluster();
    scenario = await prepareScenario(cluster, "links_unsynced", { synapseOverrides: GUESTS_OFF });
  });
  after(async () => {
    await cluster.stop();
  });

  it("is PROVIDER_NOT_SYNCED naming the ULID and the flag: migrate exits 10 and MAS is unchanged", async () => {
    const missing = "01JBZ3Q5K0V8W4YF8E2C9M7T6D";
    const before = await cluster.dump(scenario.masDb);
    const run = await runCli(["migrate", ...scenario.configArgs, "--link", `localpart=${missing}`]);
    assert.equal(run.code, 10, run.stderr);
    assert.match(run.stderr, new RegExp(`PROVIDER_NOT_SYNCED.*${missing} \\(for --link localpart=${missing}\\)`));
    assert.equal(await cluster.dump(scenario.masDb), before);
  });
});
