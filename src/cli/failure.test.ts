/** Tests for the exit-1 report: the one line, the JSON object, and the one form every hint has. */
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CommanderError } from "commander";
import { parseProviderMappingFlag } from "../checks/providers.ts";
import { parseAcceptedWarnings } from "../checks/policy.ts";
import { parsePostgresUri } from "../config/connection.ts";
import { hintText, isHintForm } from "../errors/hint-form.ts";
import { UserError } from "../errors/user-error.ts";
import { scratchDir } from "../../test/harness/scratch.ts";
import { commandOf, describeFailure, failureJson, failureLine } from "./failure.ts";
import { loadSetup } from "./load.ts";

describe("isHintForm", () => {
  const cases: [string, boolean][] = [
    ["pass MAS's configuration with --config", true],
    ["quote the id and make it the provider's 26-character ULID", true],
    ["Pass MAS's configuration with --config", false], // capital letter
    ["pass MAS's configuration with --config.", false], // final period
    ["only warnings can be accepted", false], // not a verb
    ["see the fix: pass --config", false], // a fix: of its own
    ["check the settings\nor the file", false], // two lines
    ["", false],
  ];
  for (const [hint, expected] of cases) it(JSON.stringify(hint), () => assert.equal(isHintForm(hint), expected));
});

describe("hintText", () => {
  const cases: [string, string][] = [
    ["Give a URI such as sqlite:///var/lib/synapse/homeserver.db.", "give a URI such as sqlite:///var/lib/synapse/homeserver.db"],
    ["pass --config mas.yaml", "pass --config mas.yaml"],
    ["MAS_CONFIG must name the files.", "MAS_CONFIG must name the files"],
    ["Synapse must be stopped first.", "Synapse must be stopped first"],
    ["PostgreSQL must be running", "PostgreSQL must be running"],
    ["Check database.args in homeserver.yaml.", "check database.args in homeserver.yaml"],
    ["  use one of disable, require.  ", "use one of disable, require"],
  ];
  for (const [raw, printed] of cases) it(JSON.stringify(raw), () => assert.equal(hintText(raw), printed));
});

describe("describeFailure, failureLine and failureJson", () => {
  it("a UserError: its message and its hint in the printed form", () => {
    const failure = describeFailure(
      new UserError("mas.yaml: the file does not exist", "Pass MAS's configuration with --config."),
      "check",
    );
    assert.deepEqual(failure, {
      message: "mas.yaml: the file does not exist",
      fix: "pass MAS's configuration with --config",
      internal: false,
    });
    assert.equal(
      failureLine(failure!),
      "syn2mas: error: mas.yaml: the file does not exist (fix: pass MAS's configuration with --config)",
    );
    assert.deepEqual(failureJson(failure!, "check"), {
      command: "check",
      status: "error",
      exitCode: 1,
      error: { message: "mas.yaml: the file does not exist", fix: "pass MAS's configuration with --config" },
    });
  });

  it("a usage error from commander: the cause and the command's --help", () => {
    const failure = describeFailure(
      new CommanderError(1, "commander.unknownOption", "error: unknown option '--bogus'"),
      "migrate",
    );
    assert.equal(
      failureLine(failure!),
      "syn2mas: error: unknown option '--bogus' (fix: see syn2mas migrate --help for the commands, their options and examples)",
    );
    assert.equal(
      describeFailure(new CommanderError(1, "commander.help", "(outputHelp)"), undefined)?.message,
      "no command given",
    );
  });

  it("--help and --version are not failures", () => {
    assert.equal(describeFailure(new CommanderError(0, "commander.helpDisplayed", "(outputHelp)"), "check"), undefined);
  });

  it("anything else is a bug, reported as one", () => {
    const failure = describeFailure(new TypeError("x is undefined\n    at somewhere"), undefined);
    assert.equal(failure?.internal, true);
    assert.equal(
      failureLine(failure!),
      "syn2mas: internal error: x is undefined. This is a bug: rerun with --debug and report it.",
    );
    assert.deepEqual(failureJson(failure!, undefined), {
      command: null,
      status: "error",
      exitCode: 1,
      error: { message: "internal error: x is undefined", fix: "rerun with --debug and report it: this is a bug" },
    });
  });

  it("commandOf names the command of the (translated) arguments", () => {
    assert.equal(commandOf(["check", "--json"]), "check");
    assert.equal(commandOf(["migrate"]), "migrate");
    assert.equal(commandOf(["config", "generate", "--json"]), "config generate");
    assert.equal(commandOf(["--json"]), undefined);
    assert.equal(commandOf(["mas.yaml", "check"]), undefined);
  });
});

/** The hint of the UserError `fn` throws. */
function hintOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UserError, `expected a UserError, got ${String(error)}`);
    return error.hint;
  }
  assert.fail("no UserError thrown");
}

describe("every hint has the one form", () => {
  const dir = scratchDir("syn2mas-hint-form-");
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const synapse = write("homeserver.yaml", "server_name: example.com\n");
  const mas = write("mas.yaml", "matrix: {homeserver: example.com}\n");
  const setup = (extra: Partial<Parameters<typeof loadSetup>[0]>) =>
    loadSetup({ config: [mas], synapseConfig: [synapse], upstreamProviderMapping: [], synapseConnections: "3", ...extra });
  // Loader errors (mas.test.ts, synapse.test.ts) check the form in their own assertions; these are the others.
  const cases: [string, () => unknown][] = [
    ["a URI of another scheme", () => parsePostgresUri("mysql://h/d")],
    ["a URI with a bad sslmode", () => parsePostgresUri("postgresql://h/d?sslmode=sometimes")],
    ["a URI with a bad port", () => parsePostgresUri("postgresql://h:99999/d")],
    ["an unknown --accept-warning code", () => parseAcceptedWarnings(["NOPE"], false)],
    ["accepting an error", () => parseAcceptedWarnings(["MAS_NOT_EMPTY"], false)],
    ["a malformed --upstream-provider-mapping", () => parseProviderMappingFlag("oidc-x")],
    ["no --synapse-config", () => setup({ synapseConfig: [] })],
    ["--synapse-connections 0", () => setup({ synapseConnections: "0" })],
    ["a sqlite: URI with parameters", () => setup({ synapseDatabaseUri: "sqlite:///x.db?mode=ro" })],
    ["a YAML syntax error", () => setup({ synapseConfig: [write("bad.yaml", 'server_name: "x\n')] })],
    ["a top level that is a list", () => setup({ config: [write("list.yaml", "- a\n")] })],
    [
      "a provider id that YAML reads as a number",
      () => setup({ config: [write("p.yaml", "upstream_oauth2:\n  providers: [{id: 00000000000000000000000004}]\n")] }),
    ],
  ];
  for (const [name, fn] of cases) {
    it(name, () => {
      const hint = hintOf(fn);
      assert.ok(isHintForm(hint), `hint ${JSON.stringify(hint)} is not an imperative sentence in the common form`);
    });
  }
});
