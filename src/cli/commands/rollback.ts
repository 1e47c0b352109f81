/** `syn2mas rollback`: undoes a migration users have not moved into yet, removes a stage; options -> rollback() -> text, JSON, exit code. */
import { rollback, type RollbackOutcome, type StageRemoval } from "../../pipeline/rollback.ts";
import type { MasActivity } from "../../target/mas-activity.ts";
import { EXIT_BLOCKED, EXIT_OK } from "../exit-codes.ts";
import { loadSetup } from "../load.ts";
import type { Output } from "../output.ts";

export interface RollbackCommandOptions {
  config: string[];
  synapseConfig: string[];
  synapseDatabaseUri?: string;
  dryRun: boolean;
  discardMasActivity: boolean;
  json: boolean;
}

/** 10 when refused because of MAS's activity (nothing changed), else 0. */
export function rollbackExitCode(outcome: RollbackOutcome): number {
  return outcome.status === "blocked" ? EXIT_BLOCKED : EXIT_OK;
}

function activityLines(activity: MasActivity): string[] {
  return Object.entries(activity.kinds).map(
    ([kind, k]) => `  ${kind}: ${k.count}${k.examples.length > 0 ? `, e.g. ${k.examples.join(", ")}` : ""}`,
  );
}

/** Synapse's part: the `oauth-delegated` rows the operator removes there, or that there are none. */
function synapseLine(outcome: RollbackOutcome): string {
  const { count, statement } = outcome.synapse.oauthDelegated;
  return count === 0
    ? "Synapse: no user_external_ids rows with auth_provider 'oauth-delegated' (nothing to remove there; Synapse was only read)."
    : `Synapse: ${count} user_external_ids rows with auth_provider 'oauth-delegated', written while Synapse delegated to MAS; ` +
        `a later migration must not carry them. Synapse was only read: remove them there yourself (Synapse stopped) with:\n  ${statement}`;
}

/** The stage in one line: its schema, its dates and its rows. */
function stageLine(stage: StageRemoval): string {
  const rows = Object.entries(stage.counts)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${t} ${n}`)
    .join(", ");
  return (
    `the stage of an online migration (schema ${stage.schema}, syn2mas ${stage.version}), first prepared at ${stage.createdAt}, ` +
    `last brought up to date at ${stage.updatedAt}${rows === "" ? "" : `: ${rows}`}`
  );
}

/** A rollback with no migration in MAS: only the stage goes. */
function renderStageRollback(outcome: RollbackOutcome, stage: StageRemoval): string {
  const { dryRun } = outcome;
  const lines = [
    `${dryRun ? "Rollback (dry run)" : "Rollback"}: MAS holds no migration, only ${stageLine(stage)}.`,
    "",
    `${dryRun ? "Removed (then rolled back: --dry-run)" : "Removed"}: the schema ${stage.schema} with everything in it. ` +
      "MAS's own tables were not touched.",
    "",
    synapseLine(outcome),
    "",
    dryRun
      ? "Dry run: everything above was done, then rolled back; the stage and MAS are unchanged."
      : "Rolled back: the stage is gone; MAS is as it was before the first prepare. Run `syn2mas prepare` or `syn2mas migrate` again when ready.",
  ];
  return lines.join("\n") + "\n";
}

/** The rollback for people: the migration, the activity, the rows per table, Synapse's part, and the outcome. */
export function renderRollback(outcome: RollbackOutcome): string {
  const { record, activity, removed, dryRun, stage } = outcome;
  if (record === null || activity === null || removed === null) {
    if (stage === null) throw new Error("a rollback outcome without a migration holds a stage");
    return renderStageRollback(outcome, stage);
  }
  const lines = [
    `${dryRun ? "Rollback (dry run)" : "Rollback"} of the migration committed at ${record.committedAt.toISOString()} by syn2mas ${record.toolVersion} (${record.counts.users ?? 0} users).`,
  ];
  const blocked = outcome.status === "blocked";
  const referencing = Object.entries(removed.referencingRows);
  if (activity.total > 0 || referencing.length > 0) {
    lines.push(
      "",
      blocked
        ? "Activity in MAS since the migration (users have moved in):"
        : "Activity in MAS since the migration, discarded (--discard-mas-activity):",
      ...activityLines(activity),
    );
    if (referencing.length > 0) {
      lines.push(
        `  rows of MAS's other tables that reference those users: ${referencing.map(([t, n]) => `${t} ${n}`).join(", ")}`,
      );
    }
  } else {
    lines.push("", "Activity in MAS since the migration: none.");
  }
  lines.push("", blocked ? "Rows it would remove:" : dryRun ? "Rows removed (then rolled back: --dry-run):" : "Rows removed:");
  if (removed.rows.length === 0) lines.push("  none");
  for (const { table, count } of removed.rows) lines.push(`  ${table.padEnd(40)} ${count}`);
  if (outcome.recordRemoval !== null) {
    const { records, schemaDropped } = outcome.recordRemoval;
    lines.push(
      `  ${"syn2mas.migrations".padEnd(40)} ${records}${schemaDropped ? " (the syn2mas schema dropped: nothing else was in it)" : ""}`,
    );
  }
  if (stage !== null) {
    lines.push(`  ${stage.schema.padEnd(40)} ${blocked ? "would be dropped" : "dropped"}: ${stageLine(stage)}`);
  }
  const left = outcome.activityLeft;
  if (left !== null && left.total > 0) {
    lines.push("", "Left in MAS (activity that references no user removed):", ...activityLines(left));
  }
  lines.push("", synapseLine(outcome));
  lines.push(
    "",
    blocked
      ? "Rollback refused: MAS holds activity since the migration (above), which a rollback would discard. Nothing was changed. " +
          "If it may go, run rollback again with --discard-mas-activity."
      : dryRun
        ? "Dry run: everything above was done, then rolled back; MAS is unchanged."
        : "Rolled back: MAS holds no migration now (an empty MAS); run `syn2mas migrate` again when ready.",
  );
  return lines.join("\n") + "\n";
}

/** Runs the rollback, prints it, and returns the exit code (0, or 10 when refused because of activity). */
export async function rollbackCommand(options: RollbackCommandOptions, out: Output): Promise<number> {
  const setup = loadSetup({ ...options, upstreamProviderMapping: [], synapseConnections: "1" });
  const outcome = await rollback({ ...setup, dryRun: options.dryRun, discardMasActivity: options.discardMasActivity });
  out.info(renderRollback(outcome).trimEnd());
  const exitCode = rollbackExitCode(outcome);
  if (options.json) {
    out.json({ command: "rollback", exitCode, ...outcome });
  }
  return exitCode;
}
