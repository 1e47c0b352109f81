/**
 * End-to-end (issue 15, item 4): `syn2mas config generate` on the fixture homeserver.yaml with SAML, CAS, an LDAP
 * module and JWT enabled writes a commented provider stub for each and prints the `--link` flags; the round trip:
 * the stubs uncommented and synced as `mas-cli config sync` would, `check`, `migrate` and `verify` accept exactly
 * the printed flags, and the LDAP flag links every localpart-only user with Dex's subject for the `ldap` connector.
 * Run `npm run build` first: the tests drive the built CLI.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import YAML from "yaml";
import { parseLinkFlag } from "../../src/config/link-rules.ts";
import { dexSubject } from "../../src/model/dex-subject.ts";
import { ulidTextToUuid } from "../../src/model/ids.ts";
import type { FindingJson } from "../../src/cli/render.ts";
import { syncProviders } from "../harness/mas-sync.ts";
import { localpartLinkedUsernames, masLinksOn, uncommentStubs } from "../harness/links.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";

type Obj = Record<string, any>;

const SOURCES = {
  saml2_config: { sp_config: { metadata: { remote: [{ url: "https://idp.example.com/metadata" }] } } },
  cas_config: { server_url: "https://cas.example.com/cas" },
  modules: [
    {
      module: "ldap_auth_provider.LdapAuthProviderModule",
      config: { uri: "ldap://ldap.example.com", bind_password: "ldap-bind-secret-1", attributes: { uid: "uid" } },
    },
  ],
  jwt_config: { enabled: true, secret: "jwt-secret-value-1", algorithm: "HS256" },
};

/** The values of the `--link` lines of a report. */
function printedLinks(stderr: string): string[] {
  return [...stderr.matchAll(/^ {2}--link '([^']+)'$/gm)].map((m) => m[1] as string);
}

describe("config generate with SAML, CAS, an LDAP module and JWT, and the printed --link flags through check, migrate and verify", () => {
  let cluster: Cluster;
  let scenario: Scenario;
  let generated: CliResult;
  let masText: string;
  let stubIds: string[];
  let links: string[];
  let roundTripConfig: string;
  let ldapId: string;

  before(async () => {
    cluster = await startCluster();
    scenario = await prepareScenario(cluster, "generate_links", {
      synapseOverrides: { ...GUESTS_OFF, ...SOURCES },
      providers: false,
    });
    const out = join(scenario.dir, "mas-generated.yaml");
    generated = await runCli(["config", "generate", "--synapse-config", scenario.synapseConfig, "--output", out]);
    assert.equal(generated.code, 0, generated.stderr);
    masText = await readFile(out, "utf8");
    stubIds = [...masText.matchAll(/^# {5}- id: (\S+)$/gm)].map((m) => m[1] as string);
    links = printedLinks(generated.stderr);
    // The operator's part: uncomment the stubs, point at MAS's database, `mas-cli config sync`.
    const doc = YAML.parseDocument(uncommentStubs(masText));
    doc.set("database", { uri: cluster.uri(scenario.masDb) });
    roundTripConfig = join(scenario.dir, "mas-round-trip.yaml");
    await writeFile(roundTripConfig, doc.toString());
    await syncProviders(cluster, scenario.masDb, (doc.toJS() as Obj).upstream_oauth2.providers as Obj[]);
    ldapId = stubIds[2] as string;
  });

  after(async () => {
    await cluster?.stop();
  });

  it("writes four commented stubs after the fixture's providers, and the generated file loads without them", () => {
    assert.equal(stubIds.length, 4);
    assert.equal(new Set(stubIds).size, 4);
    const mas = YAML.parse(masText) as Obj;
    assert.deepEqual(
      (mas.upstream_oauth2.providers as Obj[]).map((p) => p.synapse_idp_id),
      ["oidc-keycloak", "oidc-github"],
    );
    const uncommented = YAML.parse(uncommentStubs(masText)) as Obj;
    assert.deepEqual(
      (uncommented.upstream_oauth2.providers as Obj[]).map((p) => [p.id, p.synapse_idp_id ?? null, p.human_name]),
      [
        [mas.upstream_oauth2.providers[0].id, "oidc-keycloak", "Keycloak"],
        [mas.upstream_oauth2.providers[1].id, "oidc-github", "GitHub"],
        [stubIds[0], null, "SAML"],
        [stubIds[1], "cas", "CAS"],
        [stubIds[2], null, "LDAP"],
        [stubIds[3], null, "JWT"],
      ],
    );
    assert.match(masText, /^## Set its userSearch\.idAttr and preferredUsernameAttr to uid,/m);
    assert.match(masText, /^# {7}issuer: https:\/\/cas\.example\.com\/cas\/oidc$/m);
  });

  it("prints the exact --link flags, each naming its stub, and the JWT note; no secret", () => {
    assert.deepEqual(links, [
      `saml=${stubIds[0]}:dex:saml:{external_id}`,
      `cas=${stubIds[1]}`,
      `localpart=${ldapId}:dex:ldap:{localpart}`,
    ]);
    assert.deepEqual(
      links.map((l) => parseLinkFlag(l)).map((r) => [r.source, r.providerId, r.dexConnector ?? null]),
      [
        ["saml", ulidTextToUuid(stubIds[0] as string), "saml"],
        ["cas", ulidTextToUuid(stubIds[1] as string), null],
        ["localpart", ulidTextToUuid(ldapId), "ldap"],
      ],
    );
    assert.match(generated.stderr, new RegExp(`^ {2}jwt_config \\(provider ${stubIds[3]}\\): no flag of its own`, "m"));
    assert.match(generated.stderr, /run `mas-cli config sync`, then pass these flags to `syn2mas check`/);
    for (const secret of ["ldap-bind-secret-1", "jwt-secret-value-1"]) assert.ok(!generated.stderr.includes(secret), secret);
  });

  it("lists the same links in --json", async () => {
    const json = await runCli(["config", "generate", "--synapse-config", scenario.synapseConfig, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const out = JSON.parse(json.stdout) as { links: { setting: string; providerId: string; link?: string }[] };
    assert.deepEqual(
      out.links.map((l) => [l.setting, l.link === undefined ? null : parseLinkFlag(l.link).source]),
      [
        ["saml2_config", "saml"],
        ["cas_config", "cas"],
        ["modules", "localpart"],
        ["jwt_config", null],
      ],
    );
    for (const l of out.links.filter((l) => l.link !== undefined)) {
      assert.equal(parseLinkFlag(l.link as string).providerId, ulidTextToUuid(l.providerId));
    }
    assert.deepEqual(
      printedLinks(json.stderr),
      out.links.flatMap((l) => (l.link === undefined ? [] : [l.link])),
    );
  });

  it("check with the printed flags: no error, no provider finding", async () => {
    const flags = links.flatMap((l) => ["--link", l]);
    const result = await runCli([
      "check",
      "--config",
      roundTripConfig,
      "--synapse-config",
      scenario.synapseConfig,
      ...flags,
      "--json",
    ]);
    assert.ok(result.code === 0 || result.code === 11, `check exited ${String(result.code)}:\n${result.stderr}`);
    const findings = (JSON.parse(result.stdout) as { findings: FindingJson[] }).findings;
    assert.deepEqual(
      findings.filter((f) => f.severity === "error").map((f) => f.code),
      [],
    );
    assert.deepEqual(
      findings.filter((f) => ["PROVIDER_NOT_IN_MAS", "PROVIDER_NOT_SYNCED", "UNKNOWN_AUTH_PROVIDER"].includes(f.code)),
      [],
    );
  });

  it("migrate with the printed flags links every localpart-only user to the LDAP stub with Dex's subject; verify agrees", async () => {
    const flags = links.flatMap((l) => ["--link", l]);
    const args = ["--config", roundTripConfig, "--synapse-config", scenario.synapseConfig, ...flags];
    const migrated = await runCli(["migrate", ...args]);
    assert.equal(migrated.code, 0, migrated.stderr);
    const expected = await localpartLinkedUsernames(cluster, scenario.synapseDb);
    assert.ok(expected.length > 0, "the fixture has users without an external id");
    const linked = await masLinksOn(cluster, scenario.masDb, ulidTextToUuid(ldapId) as string);
    assert.deepEqual(
      linked,
      expected.map((username) => ({ username, subject: dexSubject(username, "ldap") })),
    );
    const verified = await runCli(["verify", ...args]);
    assert.equal(verified.code, 0, verified.stderr);
  });
});
