/** `check` and `migrate` together: accepting warnings, --strict, JSON against text, the old tool's invocations. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import type { FindingJson as JsonFinding } from "../../src/cli/render.ts";

function findingsOf(result: CliResult): JsonFinding[] {
  return (JSON.parse(result.stdout) as { findings: JsonFinding[] }).findings;
}

describe("check and migrate on the command line", () => {
  let cluster: Cluster;
  const usersIn = async (s: Scenario) =>
    (await cluster.sql<{ n: number }>(s.masDb, "SELECT count(*)::int AS n FROM users"))[0]?.n;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => cluster?.stop());

  it("the clean fixture pair has warnings but no error; accepting them changes the exit code and nothing else", async () => {
    const s = await prepareScenario(cluster, "accept", { synapseOverrides: GUESTS_OFF });
    const dumpsBefore = [await cluster.dump(s.synapseDb), await cluster.dump(s.masDb)];
    const plain = await runCli(["check", ...s.configArgs, "--json"]);
    assert.deepEqual([await cluster.dump(s.synapseDb), await cluster.dump(s.masDb)], dumpsBefore, "check writes nothing");
    const findings = findingsOf(plain);
    assert.deepEqual(
      findings.filter((f) => f.severity === "error"),
      [],
    );
    const warnings = findings.filter((f) => f.severity === "warning");
    assert.ok(warnings.length > 0, "the sample has guests and phone numbers: warnings expected");
    assert.equal(plain.code, 11);

    const acceptArgs = warnings.flatMap((w) => ["--accept-warning", w.code]);
    const accepted = await runCli(["check", ...s.configArgs, "--json", ...acceptArgs]);
    assert.equal(accepted.code, 0);
    assert.deepEqual(
      findingsOf(accepted),
      findings.map((f) => (f.severity === "warning" ? { ...f, accepted: true } : f)),
    );
    const all = await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]);
    assert.equal(all.code, 0);
    assert.deepEqual(findingsOf(all), findingsOf(accepted));

    // Accepting all but one leaves exit 11.
    const allButOne = await runCli(["check", ...s.configArgs, "--json", ...acceptArgs.slice(2)]);
    assert.equal(allButOne.code, 11);
  });

  it("--json findings match the text output line for line", async () => {
    const s = await prepareScenario(cluster, "json_text", { synapseOverrides: GUESTS_OFF });
    const result = await runCli(["check", ...s.configArgs, "--json"]);
    const findings = findingsOf(result);
    assert.ok(findings.length > 0);
    for (const f of findings) {
      const head = `${f.severity.toUpperCase()} ${f.code}${f.count !== null ? ` (${f.count})` : ""}: ${f.message}`;
      assert.ok(result.stderr.includes(head), `text shows ${f.code} as in JSON`);
      if (f.examples.length > 0) assert.ok(result.stderr.includes(`e.g. ${f.examples.join(", ")}`));
    }
  });

  it("migrate --strict refuses on an unaccepted warning and writes nothing; accepted, it migrates", async () => {
    const s = await prepareScenario(cluster, "strict", { synapseOverrides: GUESTS_OFF });
    const before = await cluster.dump(s.masDb);
    const refused = await runCli(["migrate", ...s.configArgs, "--strict"]);
    assert.equal(refused.code, 10, refused.stderr);
    assert.match(refused.stderr, /--strict/);
    assert.equal(await cluster.dump(s.masDb), before);
    const done = await runCli(["migrate", ...s.configArgs, "--strict", "--accept-all-warnings"]);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(await usersIn(s), 47);
  });

  it("without --strict, warnings are shown and migrate proceeds", async () => {
    const s = await prepareScenario(cluster, "warn_ok", { synapseOverrides: GUESTS_OFF });
    const done = await runCli(["migrate", ...s.configArgs]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /WARNING /);
    assert.equal(await usersIn(s), 47);
  });

  for (const masVersion of ["1.22.0", "1.0.0"] as const) {
    it(`a check that passes is followed by a migrate that completes (MAS ${masVersion})`, async () => {
      const s = await prepareScenario(cluster, `pass_${masVersion}`, { masVersion, synapseOverrides: GUESTS_OFF });
      const checked = await runCli(["check", ...s.configArgs, "--accept-all-warnings"]);
      assert.equal(checked.code, 0, checked.stderr);
      const migrated = await runCli(["migrate", ...s.configArgs]);
      assert.equal(migrated.code, 0, migrated.stderr);
      assert.equal(await usersIn(s), 47);
    });
  }

  it("the old tool's --command=advisor is check, and --command=migrate --dryRun [false] works", async () => {
    const s = await prepareScenario(cluster, "legacy", { synapseOverrides: GUESTS_OFF });
    const legacyArgs = ["--synapseConfigFile", s.synapseConfig, "--masConfigFile", s.masConfig];
    const advisor = await runCli(["--command=advisor", ...legacyArgs, "--json"]);
    const check = await runCli(["check", ...s.configArgs, "--json"]);
    assert.equal(advisor.code, check.code);
    assert.deepEqual(findingsOf(advisor), findingsOf(check));

    const before = await cluster.dump(s.masDb);
    const dry = await runCli(["--command=migrate", ...legacyArgs, "--dryRun", "--json"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal((JSON.parse(dry.stdout) as { dryRun: boolean }).dryRun, true);
    assert.equal(await cluster.dump(s.masDb), before);

    const real = await runCli(["--command=migrate", ...legacyArgs, "--dryRun", "false"]);
    assert.equal(real.code, 0, real.stderr);
    assert.equal(await usersIn(s), 47);
  });
});
