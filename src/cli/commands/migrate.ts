/** `syn2mas migrate`: options -> migrate() -> findings, report and exit code. */
import { migrate, prepare, type MigrateOutcome } from "../../pipeline/migrate.ts";
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
  } else if (outcome.status === "keys_checked") {
    out.info(keysCheckedText(outcome, options.dryRun));
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
      ...(outcome.status === "keys_checked" ? { foreignKeysChecked: outcome.keys } : {}),
    });
  }
  return exitCode;
}

/** What a rerun after an interrupted cut-over did: the keys it checked (or, dry, would check). */
function keysCheckedText(outcome: Extract<MigrateOutcome, { status: "keys_checked" }>, dryRun: boolean): string {
  const names = outcome.keys.join(", ");
  const committed = `MAS already holds the migration committed at ${outcome.committedAt.toISOString()}`;
  return dryRun
    ? `${committed}; its cut-over stopped before it had checked ${outcome.keys.length} foreign keys (${names}). ` +
        "Dry run: nothing checked; `syn2mas migrate` checks them."
    : `${committed}; its cut-over had stopped before it checked ${outcome.keys.length} foreign keys (${names}): ` +
        "checked now, every row holds. The migration is complete; run `syn2mas verify` to compare it with Synapse.";
}
