/**
 * End-to-end: what the built CLI prints for an operator to act on. `--json` on exit 1 (one object on
 * stdout, and nothing else there), check's verdict line, configuration mistakes named (a provider id
 * that is not a ULID, no database section, a YAML syntax error), no colour off a terminal, and --help.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startCluster, type Cluster } from "../harness/postgres.ts";
import { describeRun, startCli } from "../harness/background.ts";
import { GUESTS_OFF, prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { writeSynapseConfig } from "../harness/temp-config.ts";

/** What `--json` prints when the tool could not run. */
interface ErrorJson {
  command: string | null;
  status: string;
  exitCode: number;
  error: { message: string; fix: string };
}

/** What `check --json` prints. */
interface CheckJson {
  command: string;
  status: "ready" | "blocked" | "warnings";
  exitCode: number;
  verdict: { errors: number; unacceptedWarnings: string[]; text: string };
  findings: { code: string; severity: string; accepted: boolean }[];
}

/** Runs the CLI in `cwd`, with NO_COLOR unset (colour must be off because stderr is no terminal). */
function runIn(cwd: string, args: string[]): Promise<CliResult> {
  return startCli(args, { NO_COLOR: undefined }, cwd).done;
}

/**
 * Exit 1, exactly one JSON object on stdout of the error shape (and nothing else on stdout), and the same
 * cause and fix on stderr's one error line. Returns the object.
 */
function assertErrorJson(result: CliResult, command: string | null): ErrorJson {
  assert.equal(result.code, 1, describeRun(result));
  let parsed: unknown;
  assert.doesNotThrow(() => (parsed = JSON.parse(result.stdout)), `stdout is one JSON value\n${describeRun(result)}`);
  const json = parsed as ErrorJson;
  assert.deepEqual(Object.keys(json).sort(), ["command", "error", "exitCode", "status"]);
  assert.equal(json.status, "error");
  assert.equal(json.exitCode, 1);
  assert.equal(json.command, command);
  assert.deepEqual(Object.keys(json.error).sort(), ["fix", "message"]);
  assert.ok(json.error.message.length > 0 && json.error.fix.length > 0);
  const errorLines = result.stderr.split("\n").filter((l) => l.startsWith("syn2mas: error:"));
  assert.deepEqual(errorLines, [`syn2mas: error: ${json.error.message} (fix: ${json.error.fix})`], describeRun(result));
  assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
  return json;
}

/** The last line of stderr. */
function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1) ?? "";
}

describe("output an operator can act on", () => {
  let cluster: Cluster;
  let clean: Scenario;

  before(async () => {
    cluster = await startCluster();
    clean = await prepareScenario(cluster, "output", { synapseOverrides: GUESTS_OFF });
  });
  after(async () => cluster?.stop());

  // ---------------------------------------------------------------- --json when the tool cannot run

  describe("--json on exit 1 prints one JSON object on stdout", () => {
    it("a MAS provider id YAML reads as a number: names the provider and the id", async () => {
      const dir = scratchDir("syn2mas-output-provider-");
      const text = await readFile(clean.masConfig, "utf8");
      assert.ok(text.includes("- id: 01JSHPZHAXC50QBKH67MH33TNF\n"), "the fixture writes the id unquoted");
      const masConfig = join(dir, "mas.yaml");
      await writeFile(masConfig, text.replace("- id: 01JSHPZHAXC50QBKH67MH33TNF\n", "- id: 00000000000000000000000004\n"));
      for (const command of ["check", "migrate"]) {
        const result = await runCli([command, "--config", masConfig, "--synapse-config", clean.synapseConfig, "--json"]);
        const json = assertErrorJson(result, command);
        assert.equal(
          json.error.message,
          `${masConfig}: upstream_oauth2.providers[0].id (the provider with synapse_idp_id oidc-keycloak) is the number 4, ` +
            "not a ULID: YAML reads an unquoted id made of digits as a number",
        );
        assert.match(json.error.fix, /^quote the id and make it the provider's 26-character ULID/);
        assert.doesNotMatch(result.stderr, /no MAS provider has/);
      }
      // Without --json: the same one line, and stdout empty.
      const plain = await runCli(["check", "--config", masConfig, "--synapse-config", clean.synapseConfig]);
      assert.equal(plain.code, 1);
      assert.equal(plain.stdout, "");
      assert.equal(plain.stderr.trimEnd().split("\n").length, 1, describeRun(plain));
      assert.match(
        plain.stderr,
        /^syn2mas: error: .*providers\[0\]\.id \(the provider with synapse_idp_id oidc-keycloak\) is the number 4/m,
      );
    });

    it("an unreachable Synapse database", async () => {
      const dir = scratchDir("syn2mas-output-unreachable-");
      const port = await freePort();
      const synapseConfig = await writeSynapseConfig(dir, {
        databaseUri: `postgresql://postgres@127.0.0.1:${port}/synapse`,
        overrides: GUESTS_OFF,
      });
      const result = await runCli(["check", "--config", clean.masConfig, "--synapse-config", synapseConfig, "--json"]);
      const json = assertErrorJson(result, "check");
      assert.ok(json.error.message.includes(`127.0.0.1:${port}`), json.error.message);
    });

    it("a bad option, an unknown command and a bad value", async () => {
      const unknown = assertErrorJson(await runCli(["check", ...clean.configArgs, "--bogus", "--json"]), "check");
      assert.equal(unknown.error.message, "unknown option '--bogus'");
      assert.match(unknown.error.fix, /syn2mas check --help/);
      const noCommand = assertErrorJson(await runCli(["--json"]), null);
      assert.match(noCommand.error.fix, /syn2mas --help/);
      const connections = assertErrorJson(
        await runCli(["migrate", ...clean.configArgs, "--synapse-connections", "0", "--json"]),
        "migrate",
      );
      assert.match(connections.error.message, /--synapse-connections 0/);
      const accept = assertErrorJson(
        await runCli(["check", ...clean.configArgs, "--accept-warning", "MAS_NOT_EMPTY", "--json"]),
        "check",
      );
      assert.match(accept.error.message, /MAS_NOT_EMPTY is an error, not a warning/);
    });

    it("config generate", async () => {
      const json = assertErrorJson(
        await runCli(["config", "generate", "--synapse-config", "/nonexistent/homeserver.yaml", "--json"]),
        "config generate",
      );
      assert.match(json.error.message, /\/nonexistent\/homeserver\.yaml/);
    });

    it("the old tool's invocation", async () => {
      const json = assertErrorJson(await runCli(["--command=advise", "--json"]), null);
      assert.match(json.error.message, /--command=advise/);
    });
  });

  // ---------------------------------------------------------------- check's verdict

  describe("check ends with a verdict", () => {
    it("unaccepted warnings: the exact --accept-warning flags, which then make it ready", async () => {
      const warned = await runCli(["check", ...clean.configArgs, "--json"]);
      assert.equal(warned.code, 11, describeRun(warned));
      const json = JSON.parse(warned.stdout) as CheckJson;
      const warnings = json.findings.filter((f) => f.severity === "warning").map((f) => f.code);
      assert.ok(warnings.length >= 2, "the fixture has guests and phone numbers");
      assert.equal(json.status, "warnings");
      assert.deepEqual(json.verdict.unacceptedWarnings, warnings);
      const flags = warnings.map((code) => `--accept-warning ${code}`).join(" ");
      const expected = `Verdict: ${warnings.length} unaccepted warnings; fix them, or accept them with: ${flags}`;
      assert.equal(lastLine(warned.stderr), expected);
      assert.equal(json.verdict.text, expected);

      const ready = await runCli(["check", ...clean.configArgs, ...flags.split(" "), "--json"]);
      assert.equal(ready.code, 0, describeRun(ready));
      assert.equal(lastLine(ready.stderr), `Verdict: ready to migrate (${warnings.length} warnings accepted).`);
      assert.equal((JSON.parse(ready.stdout) as CheckJson).status, "ready");
    });

    it("errors: blocked by N errors", async () => {
      const guestsOn = await writeSynapseConfig(clean.dir, {
        databaseUri: cluster.uri(clean.synapseDb),
        overrides: { allow_guest_access: true },
        fileName: "homeserver-guests.yaml",
      });
      const result = await runCli([
        "check",
        "--config",
        clean.masConfig,
        "--synapse-config",
        guestsOn,
        "--accept-all-warnings",
        "--json",
      ]);
      assert.equal(result.code, 10, describeRun(result));
      const json = JSON.parse(result.stdout) as CheckJson;
      const errors = json.findings.filter((f) => f.severity === "error").map((f) => f.code);
      assert.deepEqual(errors, ["GUEST_ACCESS_ENABLED"]);
      assert.equal(json.status, "blocked");
      assert.equal(json.verdict.errors, 1);
      assert.equal(lastLine(result.stderr), "Verdict: blocked by 1 error; fix the errors above, then run check again.");
    });

    it("no colour off a terminal, even without NO_COLOR", async () => {
      const result = await runIn(clean.dir, ["check", ...clean.configArgs]);
      assert.equal(result.code, 11, describeRun(result));
      assert.ok(!result.stderr.includes("\u001b["), "no escape codes on a pipe");
      assert.match(result.stderr, /^WARNING GUEST_USERS/m);
    });
  });

  // ---------------------------------------------------------------- configuration mistakes

  describe("configuration mistakes are named", () => {
    it("no database section: Synapse's default is read, and the hint names no key the file lacks", async () => {
      const dir = scratchDir("syn2mas-output-no-db-");
      const homeserver = join(dir, "homeserver.yaml");
      await writeFile(homeserver, "server_name: example.com\nallow_guest_access: false\n");
      const result = await runIn(dir, ["check", "--config", clean.masConfig, "--synapse-config", homeserver, "--json"]);
      const json = assertErrorJson(result, "check");
      assert.match(json.error.message, new RegExp(`cannot read ${join(dir, "homeserver.db").replace(/[.]/g, "\\.")}`));
      assert.doesNotMatch(json.error.fix, /database\.args/);
      assert.ok(json.error.fix.includes(`${homeserver} has no database section`), json.error.fix);
      assert.ok(json.error.fix.includes("--synapse-database-uri sqlite:///path/to/homeserver.db"), json.error.fix);
    });

    it("a YAML syntax error: the hint names the file and the line", async () => {
      const dir = scratchDir("syn2mas-output-yaml-");
      const homeserver = join(dir, "homeserver.yaml");
      await writeFile(
        homeserver,
        'server_name: example.com\nallow_guest_access: false\nregistration_shared_secret: "s3cr3t-shared-value\n',
      );
      const result = await runCli(["migrate", "--config", clean.masConfig, "--synapse-config", homeserver]);
      assert.equal(result.code, 1, describeRun(result));
      const line = result.stderr.trimEnd().split("\n");
      assert.equal(line.length, 1, describeRun(result));
      assert.match(
        line[0]!,
        new RegExp(
          `^syn2mas: error: ${homeserver}: invalid YAML at line 3: .* \\(fix: correct the YAML syntax at or just before line 3 of ${homeserver}`,
        ),
      );
      assert.ok(!result.stderr.includes("s3cr3t-shared-value"), "the line's content is not echoed");
    });
  });

  // ---------------------------------------------------------------- --help

  describe("--help", () => {
    const helps = [[], ["check"], ["migrate"], ["config", "generate"]];
    for (const command of helps) {
      it(`syn2mas ${command.join(" ")} --help: fits 100 columns, examples, exit codes, no empty defaults`, async () => {
        const result = await runCli([...command, "--help"]);
        assert.equal(result.code, 0, describeRun(result));
        const lines = result.stdout.split("\n");
        for (const line of lines) assert.ok(line.length <= 100, `longer than 100 columns: ${line}`);
        assert.doesNotMatch(result.stdout, /\(default: \[\]\)|default: false/);
        assert.match(result.stdout, /\nExamples:\n {2}syn2mas /);
        assert.match(result.stdout, /\nExit codes:\n {2}0 /);
        assert.match(result.stdout, / 1 {3}the tool could not run/);
        if (command[0] !== "check" && command[0] !== "config")
          assert.match(result.stdout, / 130 interrupted \(Ctrl-C, SIGTERM\)/);
        if (command[0] === "check" || command[0] === "migrate") {
          assert.match(result.stdout, /--synapse-config <path> +required:/);
          assert.match(result.stdout, /--config <file> +MAS configuration file \(repeatable\); required unless\s+\$MAS_CONFIG/);
          assert.match(result.stdout, /\(default: 3\)/);
          const examples = result.stdout.slice(result.stdout.indexOf("Examples:"), result.stdout.indexOf("Exit codes:"));
          assert.ok(examples.split("\n").filter((l) => l.startsWith(`  syn2mas ${command[0]} `)).length >= 2, examples);
        }
      });
    }

    it("lists check before migrate", async () => {
      const result = await runCli(["--help"]);
      const check = result.stdout.indexOf("\n  check ");
      const migrate = result.stdout.indexOf("\n  migrate ");
      assert.ok(check > 0 && migrate > check, result.stdout);
    });
  });
});
