/** `migrate`: the checked run (check-then-stream.ts) into MAS, in one transaction that this module owns. */
import type { Finding } from "../checks/finding.ts";
import type { MigrationReport } from "../report/report.ts";
import { writeMigrationRecord } from "../target/migration-record.ts";
import { TOOL_VERSION } from "../model/version.ts";
import { readSynapseMarks } from "../source/synapse-marks.ts";
import { stageExists } from "../target/stage.ts";
import { withTransaction, type TxClient } from "../target/transaction.ts";
import { STAGE_NEEDS_POSTGRES, stagedWithin } from "./staged.ts";
import { connect } from "./connect.ts";
import { checkThenStream } from "./check-then-stream.ts";
import { copyInto } from "./copy-into.ts";
import { connectionsFor, unreadableSource, type RunSetup } from "./connections.ts";
import { withSynapseAndMas, type SynapseSide } from "./open-source.ts";
import type { ProgressListener } from "./progress.ts";

export interface MigrateOptions extends RunSetup {
  dryRun: boolean;
  /** Told as phases start, advance and end. */
  progress?: ProgressListener;
}

export type MigrateOutcome =
  { status: "blocked"; findings: Finding[] } | { status: "done"; findings: Finding[]; report: MigrationReport };

/** When COMMIT's answer to a prepare is lost: the stage is either the new one or the last one, both fine. */
const PREPARE_ANSWER_LOST = {
  message: "the answer to COMMIT from the MAS database was lost: this prepare may or may not have been saved",
  hint: "run `syn2mas prepare` again: it brings the stage up to date either way",
};

async function migrateWithin(
  options: MigrateOptions,
  synapse: SynapseSide,
  tx: TxClient,
): Promise<{ value: MigrateOutcome; commit: boolean }> {
  // A stage prepared while Synapse ran: bring it up to date and move it in (staged.ts).
  if (await stageExists(tx)) return stagedWithin({ ...options, cutOver: true }, synapse, tx);
  const started = performance.now();
  const now = Date.now();
  const source = await synapse.openSource();
  try {
    const readers = await synapse.openReaders();
    try {
      const { findings, blocked, report } = await checkThenStream({
        setup: options,
        readers,
        source,
        masDb: tx,
        destination: copyInto(tx, options.dryRun),
        dryRun: options.dryRun,
        progress: options.progress,
        now,
      });
      if (blocked || report === null) return { value: { status: "blocked", findings }, commit: false };
      // Last before COMMIT, in the same transaction: a dry run rolls it back with the rest.
      await writeMigrationRecord(tx, {
        toolVersion: TOOL_VERSION,
        runStartedAt: now,
        counts: report.written as Record<string, number>,
        // In the snapshot just migrated: what `status` compares Synapse with later.
        synapseMarks: await readSynapseMarks(readers),
      });
      report.totalSeconds = (performance.now() - started) / 1000;
      return { value: { status: "done", findings, report }, commit: !options.dryRun };
    } finally {
      await readers.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * `prepare`: brings the stage up to date with Synapse (made first when there is none), in one MAS
 * transaction, while Synapse runs. MAS's own tables are not touched.
 */
export async function prepare(options: MigrateOptions): Promise<MigrateOutcome> {
  const unreadable = unreadableSource(options);
  if (unreadable) return { status: "blocked", findings: unreadable };
  if (options.synapse.databaseEngine === "sqlite3") throw STAGE_NEEDS_POSTGRES;
  const named = connectionsFor(options, options.dryRun ? "prepare-dry-run" : "prepare");
  return withSynapseAndMas(named, (synapse, masDb) =>
    withTransaction(
      masDb,
      (tx) => stagedWithin({ ...options, cutOver: false }, synapse, tx),
      () => connect(named.masTarget),
      PREPARE_ANSWER_LOST,
    ),
  );
}

/**
 * Checks, then migrates everything in one MAS transaction, reading Synapse in one read-only
 * snapshot. Blocked by any error finding (nothing is written). A dry run ends in ROLLBACK.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateOutcome> {
  const unreadable = unreadableSource(options);
  if (unreadable) return { status: "blocked", findings: unreadable };
  const named = connectionsFor(options, options.dryRun ? "dry-run" : "migrate");
  return withSynapseAndMas(named, (synapse, masDb) =>
    withTransaction(
      masDb,
      (tx) => migrateWithin(options, synapse, tx),
      () => connect(named.masTarget),
    ),
  );
}
