/** `syn2mas migrate`: options -> migrate() -> findings, report and exit code. */
import { migrate } from "../../pipeline/migrate.ts";
import { EXIT_BLOCKED, EXIT_OK } from "../exit-codes.ts";
import { loadSetup, type CommonOptions } from "../load.ts";
import { renderFindings, renderReport } from "../render.ts";
import type { Output } from "../output.ts";

export interface MigrateCommandOptions extends CommonOptions {
  dryRun: boolean;
  json: boolean;
  skipInvalidRows: boolean;
  ignoreSynapseRunning: boolean;
}

/** Runs the migration and returns the exit code. */
export async function migrateCommand(options: MigrateCommandOptions, out: Output): Promise<number> {
  const setup = loadSetup(options);
  out.info(`${options.dryRun ? "Dry run" : "Migrating"}: Synapse ${setup.synapse.serverName} -> MAS`);
  const outcome = await migrate({
    ...setup,
    dryRun: options.dryRun,
    allowRunningSynapse: options.ignoreSynapseRunning,
    skipInvalidRows: options.skipInvalidRows,
    onPhase: ({ phase, state, rows }) => {
      if (state === "end") out.info(`  ${phase}: ${rows} rows read`);
    },
  });
  out.info(renderFindings(outcome.findings).trimEnd());
  const exitCode = outcome.status === "blocked" ? EXIT_BLOCKED : EXIT_OK;
  if (outcome.status === "blocked") {
    out.info("Migration blocked by the errors above: nothing was written to MAS.");
  } else {
    out.info(renderReport(outcome.report).trimEnd());
  }
  if (options.json) {
    out.json({
      command: "migrate",
      status: outcome.status,
      dryRun: options.dryRun,
      exitCode,
      findings: outcome.findings,
      report: outcome.status === "done" ? outcome.report : null,
    });
  }
  return exitCode;
}
