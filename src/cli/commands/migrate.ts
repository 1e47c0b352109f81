/** `syn2mas migrate`: options -> migrate() -> findings, report and exit code. */
import { migrate } from "../../pipeline/migrate.ts";
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

/** Runs the migration and returns the exit code. */
export async function migrateCommand(options: MigrateCommandOptions, out: Output): Promise<number> {
  const policy = {
    acceptedWarnings: parseAcceptedWarnings(options.acceptWarning, options.acceptAllWarnings),
    strict: options.strict,
  };
  const setup = loadSetup(options);
  out.info(`${options.dryRun ? "Dry run" : "Migrating"}: Synapse ${setup.synapse.serverName} -> MAS`);
  const outcome = await migrate({
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
      `Migration blocked by the ${policy.strict ? "errors and unaccepted warnings (--strict)" : "errors"} above: nothing was written to MAS.`,
    );
  } else {
    out.info(renderReport(outcome.report).trimEnd());
  }
  if (options.json) {
    out.json({
      command: "migrate",
      status: outcome.status,
      dryRun: options.dryRun,
      exitCode,
      findings: findingsJson(outcome.findings),
      report: outcome.status === "done" ? outcome.report : null,
    });
  }
  return exitCode;
}
