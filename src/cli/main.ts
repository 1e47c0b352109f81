#!/usr/bin/env node
/** Entry point: parses arguments, dispatches, maps errors to exit codes. The only place that sets one. */
import { Command, CommanderError, Option } from "commander";
import { UserError } from "../errors/user-error.ts";
import { checkCommand } from "./commands/check.ts";
import { configGenerateCommand } from "./commands/config-generate.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { EXIT_TOOL_FAILURE } from "./exit-codes.ts";
import { handleInterrupts } from "./interrupt.ts";
import { translateLegacyArgs } from "./legacy-args.ts";
import { processOutput } from "./output.ts";

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Adds the options shared by every command that reads both configurations. */
function withCommonOptions(command: Command): Command {
  return command
    .option("--config <file>", "MAS configuration file (repeatable; default: $MAS_CONFIG, colon-separated)", collect, [])
    .option("--synapse-config <path>", "Synapse homeserver.yaml, or a directory of *.yaml (repeatable)", collect, [])
    .option("--synapse-database-uri <uri>", "postgresql://... or sqlite:///path/to/homeserver.db, overriding Synapse's database section")
    .option(
      "--upstream-provider-mapping <SYNAPSE_IDP_ID:MAS_PROVIDER_ULID>",
      "map a Synapse auth_provider to a MAS provider (repeatable)",
      collect,
      [],
    )
    // The old TypeScript tool's spelling; commander stores both under the same attribute.
    .addOption(new Option("--upstreamProviderMapping <mapping>").hideHelp().argParser(collect))
    .option(
      "--synapse-connections <n>",
      "read-only connections to Synapse's database, sharing one snapshot, for the checks (tuning)",
      "3",
    )
    .option("--accept-warning <CODE>", "accept a warning by its code: still shown, no longer fails (repeatable)", collect, [])
    .option("--accept-all-warnings", "accept every warning", false)
    .option("--json", "print the result as JSON on stdout", false)
    .option("--debug", "show stack traces on errors", false);
}

function buildProgram(): Command {
  const program = new Command("syn2mas")
    .description("Move a Synapse homeserver's accounts and sessions into Matrix Authentication Service")
    .version("0.1.0")
    .exitOverride()
    // Usage errors are printed by report(), in the same one-line form as every other error.
    .configureOutput({ writeErr: () => undefined });
  withCommonOptions(
    program
      .command("migrate")
      .description("check, then migrate Synapse into MAS in one transaction")
      .option("--dry-run", "do everything, then roll MAS back to how it was", false)
      .option("--skip-invalid-rows", "skip and count rows with foreign/malformed user ids or no user instead of refusing", false)
      .option("--ignore-synapse-running", "migrate even though other sessions are connected to the Synapse database", false)
      .option("--strict", "refuse to migrate on any warning that was not accepted", false),
  ).action(async (opts) => {
    process.exitCode = await migrateCommand(opts, processOutput);
  });
  withCommonOptions(
    program
      .command("check")
      .description("find what would stop or spoil a migration; writes nothing")
      .option("--skip-invalid-rows", "report rows with foreign/malformed user ids or no user as skips, not errors", false),
  ).action(async (opts) => {
    process.exitCode = await checkCommand(opts, processOutput);
  });
  program
    .command("config")
    .description("work with configuration files")
    .command("generate")
    .description("write MAS's configuration (and Synapse's for after the migration) from Synapse's; reports what could not be carried over")
    .option("--synapse-config <path>", "Synapse homeserver.yaml, or a directory of *.yaml (repeatable)", collect, [])
    .option("--output <file>", "write the MAS configuration here (default: stdout)")
    .option("--synapse-output <file>", "write Synapse's configuration for after the migration here")
    .option("--force", "replace existing output files", false)
    .option("--json", "print the conversion report and the configuration as JSON on stdout", false)
    .option("--debug", "show stack traces on errors", false)
    .action(async (opts) => {
      process.exitCode = await configGenerateCommand(opts, processOutput);
    });
  return program;
}

function report(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return 0;
    const cause = error.code === "commander.help" ? "no command given" : error.message.replace(/^error: /, "");
    process.stderr.write(`syn2mas: error: ${cause} (fix: see syn2mas --help and syn2mas migrate --help)\n`);
    return EXIT_TOOL_FAILURE;
  }
  if (error instanceof UserError) {
    process.stderr.write(`syn2mas: error: ${error.message} (fix: ${error.hint})\n`);
  } else {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    process.stderr.write(`syn2mas: internal error: ${message}. This is a bug: rerun with --debug and report it.\n`);
  }
  if (debug && error instanceof Error) process.stderr.write(`${error.stack ?? ""}\n`);
  return EXIT_TOOL_FAILURE;
}

async function main(argv: string[]): Promise<void> {
  const debug = argv.includes("--debug");
  try {
    let args: string[];
    try {
      args = translateLegacyArgs(argv.slice(2));
    } catch (error) {
      throw new UserError((error as Error).message, "use --command=advisor (check) or --command=migrate, or the new commands");
    }
    await buildProgram().parseAsync(args, { from: "user" });
  } catch (error) {
    process.exitCode = report(error, debug);
  }
}

handleInterrupts();

await main(process.argv);
