/**
 * End-to-end: `syn2mas config generate` on the fixture homeserver.yaml (guests off), then the round trip: the
 * generated MAS configuration, pointed at a prepared MAS 1.22 database whose provider rows are synced as
 * `mas-cli config sync` would, passes `syn2mas check` with no configuration finding and no error, and `migrate`
 * succeeds with it. Also the --synapse-output file, --json, stdout, and refusals.
 * Run `npm run build` first: the tests drive the built CLI.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { ulidTextToUuid } from "../../src/model/ids.ts";
import { FIXTURE_SECRETS } from "../harness/fixtures.ts";
import { syncProviders } from "../harness/mas-sync.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { writeSynapseConfig } from "../harness/temp-config.ts";
import type { FindingJson as JsonFinding } from "../../src/cli/render.ts";

type Obj = Record<string, any>;

/** Every code of the two configuration sections of checks.md. */
const CONFIG_CODES = [
  "REGISTRATION_ENABLED",
  "USER_CONSENT",
  "CAS_CONFIGURED",
  "SAML_CONFIGURED",
  "JWT_CONFIGURED",
  "PASSWORD_PROVIDER",
  "THREEPID_CHANGES_ENABLED",
  "LOGIN_VIA_EXISTING_SESSION",
  "UNSUPPORTED_DATABASE",
  "SERVER_NAME_MISMATCH",
  "NO_BCRYPT_SCHEME",
  "PEPPER_MISMATCH",
  "UNICODE_NORMALIZATION_OFF",
  "NO_REHASH_SCHEME",
  "PASSWORDS_DISABLED",
  "GUEST_ACCESS_ENABLED",
  "CAPTCHA_NOT_CONFIGURED",
  "TOS_NOT_CONFIGURED",
  "PROVIDER_NOT_IN_MAS",
  "PROVIDER_NOT_SYNCED",
  "UNKNOWN_AUTH_PROVIDER",
];

function assertOk(result: CliResult, what: string): void {
  assert.equal(result.code, 0, `${what} failed (exit ${String(result.code)}):\n${result.stderr}`);
}

describe("syn2mas config generate on the fixture, and the round trip through check and migrate", () => {
  let cluster: Cluster;
  let scenario: Scenario;
  let dir: string;
  let source: string;
  let generated: CliResult;
  let mas: Obj;
  let masText: string;
  let synapseText: string;
  let roundTripConfig: string;

  before(async () => {
    cluster = await startCluster();
    scenario = await prepareScenario(cluster, "config_generate", { synapseOverrides: GUESTS_OFF, providers: false });
    dir = await mkdtemp(join(tmpdir(), "syn2mas-config-generate-"));
    source = await writeSynapseConfig(dir, { overrides: GUESTS_OFF, fileName: "homeserver-source.yaml" });
    const masOut = join(dir, "mas-generated.yaml");
    const synapseOut = join(dir, "homeserver-after.yaml");
    generated = await runCli([
      "config",
      "generate",
      "--synapse-config",
      source,
      "--output",
      masOut,
      "--synapse-output",
      synapseOut,
    ]);
    assertOk(generated, "config generate");
    masText = await readFile(masOut, "utf8");
    synapseText = await readFile(synapseOut, "utf8");
    mas = YAML.parse(masText) as Obj;
    // Point the generated configuration at the prepared MAS database, as the operator would after creating it.
    const doc = YAML.parseDocument(masText);
    doc.set("database", { uri: cluster.uri(scenario.masDb) });
    roundTripConfig = join(dir, "mas-round-trip.yaml");
    await writeFile(roundTripConfig, doc.toString());
    await syncProviders(cluster, scenario.masDb, mas.upstream_oauth2.providers as Obj[]);
  });

  after(async () => {
    await cluster?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("writes the MAS configuration to --output, the report to stderr, nothing to stdout", () => {
    assert.equal(generated.stdout, "");
    assert.match(generated.stderr, /Conversion report/);
    assert.match(generated.stderr, /oidc_providers\[0\] -> upstream_oauth2\.providers\[0\]/);
    assert.match(generated.stderr, /removed +oidc_providers/);
    for (const secret of [...FIXTURE_SECRETS, mas.matrix.secret, mas.secrets.encryption]) {
      assert.ok(!generated.stderr.includes(secret), "stderr holds a secret");
    }
    assert.equal(mas.matrix.homeserver, "example.com");
    assert.deepEqual(
      (mas.upstream_oauth2.providers as Obj[]).map((p) => p.synapse_idp_id),
      ["oidc-keycloak", "oidc-github"],
    );
    assert.match(masText, /# ACTION: MAS needs its own, EMPTY PostgreSQL database/);
  });

  it("writes Synapse's configuration for after the migration, sharing the secret and keeping comments", () => {
    const after = YAML.parse(synapseText, { version: "1.1" }) as Obj;
    assert.equal(after.matrix_authentication_service.enabled, true);
    assert.equal(after.matrix_authentication_service.secret, mas.matrix.secret);
    assert.equal(after.matrix_authentication_service.endpoint, mas.http.public_base);
    assert.equal(after.oidc_providers, undefined);
    assert.equal(after.password_config.enabled, false);
    assert.equal(after.server_name, "example.com");
    assert.match(synapseText, /^# Configuration file for Synapse\.$/m);
  });

  it("passes check against the same Synapse configuration: no configuration finding, no error", async () => {
    const result = await runCli(["check", "--config", roundTripConfig, "--synapse-config", scenario.synapseConfig, "--json"]);
    assert.ok(result.code === 0 || result.code === 11, `check exited ${String(result.code)}:\n${result.stderr}`);
    const findings = (JSON.parse(result.stdout) as { findings: JsonFinding[] }).findings;
    assert.deepEqual(
      findings.filter((f) => CONFIG_CODES.includes(f.code)).map((f) => f.code),
      [],
    );
    assert.deepEqual(
      findings.filter((f) => f.severity === "error").map((f) => f.code),
      [],
    );
  });

  it("migrates with it, linking upstream accounts to the generated providers", async () => {
    const result = await runCli(["migrate", "--config", roundTripConfig, "--synapse-config", scenario.synapseConfig, "--json"]);
    assertOk(result, "migrate");
    assert.equal((JSON.parse(result.stdout) as { status: string }).status, "done");
    const links = await cluster.sql<{ provider: string; n: string }>(
      scenario.masDb,
      "SELECT upstream_oauth_provider_id::text AS provider, count(*) AS n FROM upstream_oauth_links GROUP BY 1",
    );
    const external = await cluster.sql<{ auth_provider: string; n: string }>(
      scenario.synapseDb,
      "SELECT auth_provider, count(*) AS n FROM user_external_ids GROUP BY 1",
    );
    const inSynapse = new Map(external.map((r) => [r.auth_provider, Number(r.n)]));
    const byProvider = new Map(links.map((r) => [r.provider, Number(r.n)]));
    const providers = mas.upstream_oauth2.providers as Obj[];
    for (const p of providers) {
      assert.ok((inSynapse.get(p.synapse_idp_id) ?? 0) > 0, `the fixture has ${String(p.synapse_idp_id)} links`);
      assert.equal(byProvider.get(ulidTextToUuid(p.id) as string), inSynapse.get(p.synapse_idp_id), String(p.synapse_idp_id));
    }
    assert.equal(byProvider.size, providers.length);
  });

  it("prints the report and the configuration as JSON with --json, and the YAML on stdout without --output", async () => {
    const json = await runCli(["config", "generate", "--synapse-config", source, "--json"]);
    assertOk(json, "config generate --json");
    const out = JSON.parse(json.stdout) as { command: string; config: Obj; report: { action: string; setting: string }[] };
    assert.equal(out.command, "config generate");
    assert.equal(out.config.matrix.homeserver, "example.com");
    assert.notEqual(out.config.matrix.secret, mas.matrix.secret, "fresh secrets on every run");
    assert.ok(out.report.some((e) => e.setting === "server_name" && e.action === "mapped"));
    assert.ok(!JSON.stringify(out.report).includes("kc-secret"));
    const plain = await runCli(["config", "generate", "--synapse-config", source]);
    assertOk(plain, "config generate");
    assert.equal((YAML.parse(plain.stdout) as Obj).matrix.homeserver, "example.com");
  });

  it("refuses to overwrite an existing file or the input, and needs a Synapse configuration", async () => {
    const existing = await runCli([
      "config",
      "generate",
      "--synapse-config",
      source,
      "--output",
      join(dir, "mas-generated.yaml"),
    ]);
    assert.equal(existing.code, 1);
    assert.match(existing.stderr, /already exists/);
    const input = await runCli(["config", "generate", "--synapse-config", source, "--synapse-output", source, "--force"]);
    assert.equal(input.code, 1);
    assert.match(input.stderr, /is one of the Synapse configuration files read/);
    const none = await runCli(["config", "generate"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no Synapse configuration given/);
  });
});
