/** `syn2mas migrate`: options -> migrate() -> findings, report and exit code. */
import { migrate, prepare } from "../../pipeline/migrate.ts";
import { parseAcceptedWarnings } from "../../checks/policy.ts";
import { exitCodeFor } from "../exit-codes.ts";
import { loadSetup, type CommonOptions } from "../load.ts";
import { findingsJson, renderFindings, renderReport } from "../render.ts";
import type { Output } from "../output.ts";
import { progressRenderer } from "../progress.ts";

export interface MigrateCommandOptions extends CommonOptions {
  dryRun: boolean;
  json: boolean;
  skipInvalidRows: boolean;
  ignoreSynapseRunning: boolean;
  acceptWarning: string[];
  acceptAllWarnings: boolean;
  strict: boolean;
}

/**
 * Runs the migration (or, for `prepare`, brings the stage up to date) and returns the exit code.
 * Both take the same options and report the same way.
 */
export async function migrateCommand(
  options: MigrateCommandOptions,
  out: Output,
  command: "migrate" | "prepare" = "migrate",
): Promise<number> {
  const policy = {
    acceptedWarnings: parseAcceptedWarnings(options.acceptWarning, options.acceptAllWarnings),
    strict: options.strict,
  };
  const setup = loadSetup(options);
  const doing = command === "prepare" ? "Preparing the stage" : "Migrating";
  out.info(`${options.dryRun ? `Dry run (${doing.toLowerCase()})` : doing}: Synapse ${setup.synapse.serverName} -> MAS`);
  const outcome = await (command === "prepare" ? prepare : migrate)({
    ...setup,
    dryRun: options.dryRun,
    allowRunningSynapse: options.ignoreSynapseRunning,
    skipInvalidRows: options.skipInvalidRows,
    policy,
    progress: progressRenderer(),
  });
  out.info(renderFindings(outcome.findings, out.style).trimEnd());
  const exitCode = exitCodeFor("migrate", outcome.findings, policy);
  if (outcome.status === "blocked") {
    out.info(
      `${command === "prepare" ? "Prepare" : "Migration"} blocked by the ${policy.strict ? "errors and unaccepted warnings (--strict)" : "errors"} above: nothing was written to MAS.`,
    );
  } else {
    out.info(renderReport(outcome.report).trimEnd());
  }
  if (options.json) {
    out.json({
      command,
      status: outcome.status,
      dryRun: options.dryRun,
      exitCode,
      findings: findingsJson(outcome.findings),
      report: outcome.status === "done" ? outcome.report : null,
    });
  }
  return exitCode;
}
