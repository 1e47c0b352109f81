#!/usr/bin/env node
/** Entry point: parses arguments, dispatches, maps errors to exit codes. The only place that sets one. */
import { Command, Option } from "commander";
import { UserError } from "../errors/user-error.ts";
import { TOOL_VERSION } from "../model/version.ts";
import { checkCommand } from "./commands/check.ts";
import { configGenerateCommand } from "./commands/config-generate.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { statusCommand } from "./commands/status.ts";
import { rollbackCommand } from "./commands/rollback.ts";
import { verifyCommand } from "./commands/verify.ts";
import { EXIT_TOOL_FAILURE } from "./exit-codes.ts";
import { handleInterrupts } from "./interrupt.ts";
import { translateLegacyArgs } from "./legacy-args.ts";
import { commandOf, describeFailure, failureJson, failureLine } from "./failure.ts";
import { processOutput, type Output } from "./output.ts";
import { paint } from "./style.ts";

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Widest help text, so the option column and its descriptions fit a 100-column terminal. */
const HELP_WIDTH = 100;

/** The "Exit codes" section of a command's help. */
function exitCodesHelp(command: "check" | "migrate" | undefined): string {
  const lines = ["", "Exit codes:"];
  if (command !== "migrate") lines.push("  0   check: ready to migrate (no error, no unaccepted warning)");
  if (command !== "check") lines.push("  0   migrate: migrated (or, with --dry-run, migrated and rolled back)");
  lines.push("  10  an error finding (migrate --strict: also an unaccepted warning); nothing was written");
  if (command !== "migrate") lines.push("  11  check: warnings that were not accepted");
  lines.push(
    "  1   the tool could not run (bad configuration or option, unreachable database): one line on",
    '      stderr names the cause and the fix; with --json, stdout holds {"status": "error", ...}',
  );
  if (command !== "check") {
    lines.push(
      "  130 interrupted (Ctrl-C, SIGTERM): one line says whether the migration was rolled back or had",
      '      committed; with --json, stdout holds {"status": "interrupted", "migration": ...}',
    );
  }
  return lines.join("\n");
}

const FILES = "--synapse-config homeserver.yaml --config mas.yaml";

/** Help that shows what the operator needs: the description, and a default only when it says something. */
function configureHelp(command: Command): Command {
  return command.configureHelp({
    helpWidth: Math.min(process.stdout.columns ?? HELP_WIDTH, HELP_WIDTH),
    optionDescription: (option) =>
      typeof option.defaultValue === "string" && option.defaultValue !== ""
        ? `${option.description} (default: ${option.defaultValue})`
        : option.description,
  });
}

/** Where both configurations and Synapse's database are: the options of every command that reads both, listed first. */
function withDatabaseOptions(command: Command): Command {
  return configureHelp(command)
    .usage("--synapse-config <path> [--config <file>] [options]")
    .option("--synapse-config <path>", "required: Synapse's homeserver.yaml, or a directory of *.yaml (repeatable)", collect)
    .option(
      "--config <file>",
      "MAS configuration file (repeatable); required unless $MAS_CONFIG names the files (colon-separated)",
      collect,
    )
    .option(
      "--synapse-database-uri <uri>",
      "postgresql://... or sqlite:///path/to/homeserver.db, overriding Synapse's database section",
    );
}

/** {@link withDatabaseOptions} and the provider mapping: the configuration options of the commands that map rows. */
function withConfigOptions(command: Command): Command {
  return (
    withDatabaseOptions(command)
      .option(
        "--upstream-provider-mapping <IDP:ULID>",
        "map a Synapse auth_provider (e.g. oidc-keycloak) to a MAS provider's ULID (repeatable); rarely needed: " +
          "MAS providers with synapse_idp_id are mapped automatically",
        collect,
      )
      .option(
        "--link <SOURCE=ULID[:SUBJECT]>",
        "link the users of a Synapse auth_provider (saml, cas, oidc-<idp>) or of `localpart` to a MAS provider; SUBJECT " +
          "is a template over {external_id}, {localpart}, {user_id}, or dex:CONNECTOR:TEMPLATE for Dex's encoding (repeatable)",
        collect,
      )
      .option(
        "--link-file <FILE.csv>",
        "links whose subjects cannot be computed from Synapse (e.g. exported from Keycloak): a CSV file with the header " +
          "user_id,provider,subject, provider being a MAS provider's ULID",
      )
      // The old TypeScript tool's spelling; commander stores both under the same attribute.
      .addOption(new Option("--upstreamProviderMapping <mapping>").hideHelp().argParser(collect))
  );
}

/** The options of every command that reads both configurations that shape the run and its output, listed last. */
function withRunOptions(command: Command): Command {
  return command
    .option("--synapse-connections <n>", "read-only connections to Synapse's database, sharing one snapshot, for the checks", "3")
    .option("--accept-warning <CODE>", "accept a warning by its code: still shown, no longer fails (repeatable)", collect)
    .option("--accept-all-warnings", "accept every warning", false)
    .option("--json", "also print the result as one JSON object on stdout (text stays on stderr)", false)
    .option("--debug", "show stack traces on errors", false);
}

/** Options as the commands expect them: the repeatable ones default to an empty list (not shown in --help). */
function withLists<T extends object>(opts: T): T {
  const lists = ["config", "synapseConfig", "upstreamProviderMapping", "link", "acceptWarning"];
  return { ...opts, ...Object.fromEntries(lists.map((k) => [k, (opts as Record<string, unknown>)[k] ?? []])) };
}

function buildProgram(out: Output): Command {
  const program = configureHelp(new Command("syn2mas"))
    .description("Move a Synapse homeserver's accounts and sessions into Matrix Authentication Service")
    .usage("<command> [options]")
    .version(TOOL_VERSION)
    .exitOverride()
    // Usage errors are printed by report(), in the same one-line form as every other error.
    .configureOutput({ writeErr: () => undefined })
    .addHelpText(
      "after",
      `
Examples:
  syn2mas check ${FILES}
  syn2mas migrate ${FILES} --dry-run
  syn2mas migrate ${FILES}
  syn2mas verify ${FILES}
  syn2mas status ${FILES} --json
  syn2mas rollback ${FILES} --dry-run
  syn2mas config generate --synapse-config homeserver.yaml --output mas.yaml
${exitCodesHelp(undefined)}

Run syn2mas <command> --help for a command's options.`,
    );
  withRunOptions(
    withConfigOptions(
      program.command("check").description("find what would stop or spoil a migration, and what it would skip; writes nothing"),
    ).option("--skip-invalid-rows", "report rows with foreign/malformed user ids or no user as skips, not errors", false),
  )
    .addHelpText(
      "after",
      `
Examples:
  syn2mas check ${FILES}
  syn2mas check ${FILES} --accept-warning GUEST_USERS
  syn2mas check ${FILES} --json > check.json
${exitCodesHelp("check")}`,
    )
    .action(async (opts) => {
      process.exitCode = await checkCommand(withLists(opts), out);
    });
  withRunOptions(
    withConfigOptions(program.command("migrate").description("check, then migrate Synapse into MAS in one transaction"))
      .option("--dry-run", "do everything, then roll MAS back to how it was", false)
      .option("--skip-invalid-rows", "skip and count rows with foreign/malformed user ids or no user instead of refusing", false)
      .option("--ignore-synapse-running", "migrate even though other sessions are connected to the Synapse database", false)
      .option("--strict", "refuse to migrate on any warning that was not accepted", false),
  )
    .addHelpText(
      "after",
      `
Examples:
  syn2mas migrate ${FILES} --dry-run
  syn2mas migrate ${FILES}
  syn2mas migrate ${FILES} --strict --accept-all-warnings
${exitCodesHelp("migrate")}`,
    )
    .action(async (opts) => {
      process.exitCode = await migrateCommand(withLists(opts), out);
    });
  withRunOptions(
    withConfigOptions(
      program
        .command("prepare")
        .description("while Synapse runs: copy it into a stage in MAS's database (run again to bring it up to date)"),
    )
      .option("--dry-run", "do everything, then roll the stage back to how it was", false)
      .option("--skip-invalid-rows", "skip and count rows with foreign/malformed user ids or no user instead of refusing", false)
      .option("--strict", "refuse on any warning that was not accepted", false),
  )
    .addHelpText(
      "after",
      `
The stage is a schema of syn2mas's own (syn2mas_stage) that MAS never reads; MAS's tables are not
touched. Once Synapse is stopped, \`syn2mas migrate\` with the same options brings the stage up to date
one last time (reading only the users whose rows changed) and moves it into MAS's tables in one
short transaction. \`syn2mas rollback\` removes a stage. Needs Synapse's database on PostgreSQL.

Examples:
  syn2mas prepare ${FILES}          (Synapse running; repeat as often as wanted)
  syn2mas migrate ${FILES}          (Synapse stopped: the cut-over)
${exitCodesHelp("migrate")}`,
    )
    .action(async (opts) => {
      process.exitCode = await migrateCommand(withLists(opts), out, "prepare");
    });
  withConfigOptions(
    program.command("verify").description("after the migration: compare MAS, row by row, with what Synapse says it must hold"),
  )
    .option("--synapse-connections <n>", "read-only connections to Synapse's database, sharing one snapshot", "3")
    .option(
      "--test-password <user>",
      "instead: read one password from standard input and say whether MAS would accept it for this user, and whether Synapse did",
    )
    .option("--json", "also print the result as one JSON object on stdout (text stays on stderr)", false)
    .option("--debug", "show stack traces on errors", false)
    .addHelpText(
      "after",
      `
Examples:
  syn2mas verify ${FILES}
  syn2mas verify ${FILES} --test-password @alice:example.com   (type the password at the prompt)

Exit codes:
  0   MAS holds every row the migration must have written, and nothing else from before it
  10  a row is missing, different or unexpected (rows MAS created since the migration are not), or MAS
      cannot verify some users' passwords; with --test-password: MAS would not accept the password
  1   the tool could not run: one line on stderr names the cause and the fix`,
    )
    .action(async (opts) => {
      process.exitCode = await verifyCommand(withLists(opts), out);
    });
  withConfigOptions(
    program
      .command("status")
      .description(
        "where the migration stands (not_migrated, prepared, migrated, delegated, diverged, foreign), read from both sides",
      ),
  )
    .option("--json", "also print the state as one JSON object on stdout (text stays on stderr)", false)
    .option("--debug", "show stack traces on errors", false)
    .addHelpText(
      "after",
      `
Examples:
  syn2mas status ${FILES}
  syn2mas status ${FILES} --json | jq -r .state

States:
  not_migrated  MAS holds no migration and no users
  prepared      the same, and a stage (syn2mas prepare) is there: its age, and what Synapse gained since
  migrated      MAS holds this tool's migration; Synapse does not delegate to MAS yet
  delegated     Synapse delegates to MAS; MAS's activity since the migration is summarised
  diverged      Synapse gained users, devices or tokens after the migration without delegating
  foreign       MAS holds users this tool did not write

Exit codes:
  0   the state was read from both sides (whatever it is)
  1   the tool could not run: one line on stderr names the cause and the fix`,
    )
    .action(async (opts) => {
      process.exitCode = await statusCommand(withLists(opts), out);
    });
  withDatabaseOptions(
    program
      .command("rollback")
      .description(
        "undo a migration users have not moved into yet, or remove a stage (prepare): MAS becomes an empty MAS again; Synapse is only read",
      ),
  )
    .option("--dry-run", "do everything, then roll MAS back to how it was", false)
    .option(
      "--discard-mas-activity",
      "roll back even though MAS holds activity since the migration (new users, sessions, logins): it is removed too",
      false,
    )
    .option("--json", "also print the result as one JSON object on stdout (text stays on stderr)", false)
    .option("--debug", "show stack traces on errors", false)
    .addHelpText(
      "after",
      `
Removes, in one MAS transaction, every row the migration wrote and its record (syn2mas.migrations),
leaving MAS as an empty MAS; refuses when MAS holds activity since the migration, unless
--discard-mas-activity is given (then the activity, and the rows of other MAS tables that reference
the migrated users, go too, listed). Synapse is never written: its user_external_ids rows with
auth_provider 'oauth-delegated' are counted, with the statement that removes them. A stage left by
\`syn2mas prepare\` (the schema syn2mas_stage) is dropped in the same transaction; with only a stage,
MAS's own tables are not touched.

Examples:
  syn2mas rollback ${FILES} --dry-run
  syn2mas rollback ${FILES}
  syn2mas rollback ${FILES} --discard-mas-activity --json

Exit codes:
  0   rolled back (or, with --dry-run, rolled back and then undone: MAS unchanged)
  10  refused: MAS holds activity since the migration (listed); nothing was changed
  1   the tool could not run (no migration or stage of this tool in MAS, another run writing to it, bad
      configuration, unreachable database): one line on stderr names the cause and the fix
  130 interrupted (Ctrl-C, SIGTERM): MAS is as it was unless the rollback had committed`,
    )
    .action(async (opts) => {
      process.exitCode = await rollbackCommand(withLists(opts), out);
    });
  configureHelp(program.command("config").description("work with configuration files"))
    .command("generate")
    .description(
      "write MAS's configuration (and Synapse's for after the migration) from Synapse's; reports what could not be carried over",
    )
    .usage("--synapse-config <path> [options]")
    .option("--synapse-config <path>", "required: Synapse's homeserver.yaml, or a directory of *.yaml (repeatable)", collect)
    .option("--output <file>", "write the MAS configuration here (default: stdout)")
    .option("--synapse-output <file>", "write Synapse's configuration for after the migration here")
    .option("--force", "replace existing output files", false)
    .option("--json", "print the conversion report and the configuration as one JSON object on stdout", false)
    .option("--debug", "show stack traces on errors", false)
    .addHelpText(
      "after",
      `
Examples:
  syn2mas config generate --synapse-config homeserver.yaml --output mas.yaml
  syn2mas config generate --synapse-config conf.d/ --output mas.yaml \\
      --synapse-output homeserver-after.yaml

Exit codes:
  0   written
  1   the tool could not run (unreadable configuration, an output file that exists): one line on
      stderr names the cause and the fix; with --json, stdout holds {"status": "error", ...}`,
    )
    .action(async (opts) => {
      process.exitCode = await configGenerateCommand(withLists(opts), out);
    });
  return program;
}

/** Prints a failure (one line on stderr; with --json, one object on stdout unless a result was already printed). Returns the exit code. */
function report(
  error: unknown,
  context: { debug: boolean; json: boolean; jsonWritten: boolean; command: string | undefined },
): number {
  const failure = describeFailure(error, context.command);
  if (failure === undefined) return 0;
  const line = failureLine(failure);
  const label =
    processOutput.style?.colour === true ? line.replace(/^syn2mas: (error|internal error)/, (m) => paint(m, "red")) : line;
  process.stderr.write(label + "\n");
  if (context.debug && error instanceof Error) process.stderr.write(`${error.stack ?? ""}\n`);
  if (context.json && !context.jsonWritten) processOutput.json(failureJson(failure, context.command));
  return EXIT_TOOL_FAILURE;
}

async function main(argv: string[]): Promise<void> {
  const userArgs = argv.slice(2);
  const debug = userArgs.includes("--debug");
  const json = userArgs.includes("--json");
  let command = commandOf(userArgs);
  // Whether the command already printed its JSON result, so that a later failure does not print a second object.
  let jsonWritten = false;
  const out: Output = {
    ...processOutput,
    json: (value) => {
      jsonWritten = true;
      processOutput.json(value);
    },
  };
  try {
    let args: string[];
    try {
      args = translateLegacyArgs(userArgs);
    } catch (error) {
      throw new UserError((error as Error).message, "use --command=advisor (check) or --command=migrate, or the new commands");
    }
    command = commandOf(args);
    await buildProgram(out).parseAsync(args, { from: "user" });
  } catch (error) {
    process.exitCode = report(error, { debug, json, jsonWritten, command });
  }
}

const userArgs = process.argv.slice(2);
handleInterrupts({ json: userArgs.includes("--json"), command: () => commandOf(userArgs) });

await main(process.argv);
