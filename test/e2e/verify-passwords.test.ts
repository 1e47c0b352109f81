/**
 * `verify` and passwords through the built CLI: `--test-password` reads the password from standard
 * input and answers for MAS and Synapse without echoing it; a plain `verify` counts the current
 * passwords MAS could not verify and exits 10 for them even when every row is equal.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeRun, startCli, type CliResult } from "../harness/background.ts";
import { FIXTURE_PEPPER, loadSynapseManifest } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type Scenario } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { writeMasConfig } from "../harness/temp-config.ts";

const manifest = await loadSynapseManifest();
const password = (localpart: string): string =>
  manifest.users[localpart]?.password ?? assert.fail(`no password for ${localpart}`);

let cluster: Cluster;
let s: Scenario;

function testPassword(user: string, input: string, ...extra: string[]): Promise<CliResult> {
  return startCli(["verify", ...s.configArgs, "--test-password", user, ...extra], {}, undefined, input).done;
}

function assertNotEchoed(result: CliResult, secret: string): void {
  assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), "the password is in the output");
}

describe("verify and passwords (CLI)", () => {
  before(async () => {
    cluster = await startCluster();
    s = await prepareScenario(cluster, "verify_passwords", { synapseOverrides: GUESTS_OFF });
    const result = await runCli(["migrate", ...s.configArgs, "--accept-all-warnings"]);
    assert.equal(result.code, 0, describeRun(result));
  });
  after(async () => cluster?.stop());

  it("--test-password: the right password is accepted by both, exit 0, never echoed", async () => {
    const tried = password("user0010");
    const result = await testPassword("@user0010:example.com", `${tried}\n`, "--json");
    assert.equal(result.code, 0, describeRun(result));
    assert.match(
      result.stderr,
      /@user0010:example\.com: MAS would accept this password \(password version 1, bcrypt\); Synapse accepted it\./,
    );
    const json = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { command: json.command, exitCode: json.exitCode, mas: json.mas, synapse: json.synapse, notes: json.notes },
      { command: "verify --test-password", exitCode: 0, mas: "accepted", synapse: "accepted", notes: [] },
    );
    assertNotEchoed(result, tried);
  });

  it("--test-password: a non-ASCII password, the user by localpart", async () => {
    const tried = password("admin");
    const result = await testPassword("admin", tried);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stderr, /@admin:example\.com: MAS would accept/);
    assertNotEchoed(result, tried);
  });

  it("--test-password: a wrong password is refused by both, exit 10", async () => {
    const tried = `${password("user0010")}-wrong`;
    const result = await testPassword("@user0010:example.com", `${tried}\n`);
    assert.equal(result.code, 10, describeRun(result));
    assert.match(result.stderr, /MAS would refuse this password .*; Synapse refused it\./);
    assertNotEchoed(result, tried);
  });

  it("--test-password: no password on standard input is one error line, exit 1", async () => {
    const result = await testPassword("@user0010:example.com", "");
    assert.equal(result.code, 1, describeRun(result));
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /^syn2mas: error: no password was given on standard input/);
  });

  it("a plain verify counts every current password as verifiable", async () => {
    const result = await runCli(["verify", ...s.configArgs, "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    const json = JSON.parse(result.stdout) as { status: string; passwords: { checked: number; unverifiable: number } };
    assert.equal(json.status, "equal");
    assert.deepEqual(
      { checked: json.passwords.checked, unverifiable: json.passwords.unverifiable },
      { checked: 38, unverifiable: 0 },
    );
    assert.match(result.stderr, /Passwords: MAS can verify all 38 users' current passwords\./);
  });

  it("a MAS configuration with another pepper: every row equal, yet exit 10 naming the users who cannot log in", async () => {
    const masConfig = await writeMasConfig(scratchDir("syn2mas-verify-pepper-"), {
      uri: cluster.uri(s.masDb),
      overrides: {
        passwords: {
          enabled: true,
          schemes: [{ version: 1, algorithm: "bcrypt", unicode_normalization: true, secret: `${FIXTURE_PEPPER}-other` }],
        },
      },
    });
    const result = await runCli(["verify", "--config", masConfig, "--synapse-config", s.synapseConfig, "--json"]);
    assert.equal(result.code, 10, describeRun(result));
    const json = JSON.parse(result.stdout) as {
      status: string;
      differs: boolean;
      passwords: { unverifiable: number; byReason: Record<string, { count: number; examples: string[] }> };
    };
    assert.equal(json.status, "passwords_unverifiable");
    assert.equal(json.differs, false);
    assert.equal(json.passwords.unverifiable, 38);
    assert.equal(json.passwords.byReason.pepper_mismatch?.count, 38);
    assert.match(result.stderr, /MAS cannot verify 38 of 38 users' current passwords/);
    assert.ok(!result.stderr.includes(FIXTURE_PEPPER) && !result.stdout.includes(FIXTURE_PEPPER), "the pepper is in the output");
  });
});
