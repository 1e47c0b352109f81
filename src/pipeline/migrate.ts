/** `migrate`: the checked run (check-then-stream.ts) into MAS, in one transaction that this module owns. */
import type { Finding } from "../checks/finding.ts";
import type { MigrationReport, ReportBuilder } from "../report/report.ts";
import { captureConstraints, runAll } from "../target/constraints.ts";
import { ChunkLoader } from "../target/loader.ts";
import { TABLE_ORDER } from "../target/tables.ts";
import { writeMigrationRecord } from "../target/migration-record.ts";
import { TOOL_VERSION } from "../model/version.ts";
import { readSynapseMarks } from "../source/synapse-marks.ts";
import { withTransaction, type TxClient } from "../target/transaction.ts";
import { connect } from "./connect.ts";
import { checkThenStream, type RowDestination } from "./check-then-stream.ts";
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

/** How long the DDL of the bulk load waits for a table lock before giving up (MAS must be stopped). */
const LOCK_TIMEOUT = "15s";

/**
 * Drops the target tables' indexes and constraints, runs `load`, and rebuilds them, all inside the
 * transaction: PostgreSQL then builds each index once instead of updating it row by row, and checks
 * every key and foreign key at the rebuild, so a dry run still fails exactly where a real run would.
 */
async function withIndexesRebuiltAfter(tx: TxClient, report: ReportBuilder, load: () => Promise<void>): Promise<void> {
  await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
  const saved = await captureConstraints(tx, TABLE_ORDER);
  await runAll(tx, saved.drops);
  await load();
  const started = performance.now();
  await runAll(tx, saved.rebuilds);
  report.addPhase({ name: "rebuild_indexes", sourceRows: 0, seconds: (performance.now() - started) / 1000 });
}

/** Migrate's destination: the COPY loader inside the transaction, the indexes rebuilt after it. */
function copyInto(tx: TxClient, dryRun: boolean): RowDestination {
  return {
    stopsWhenBlocked: true,
    writesMas: true,
    realRun: !dryRun,
    receive: (stream, optionalColumns, report) =>
      withIndexesRebuiltAfter(tx, report, async () => {
        const loader = new ChunkLoader(tx, optionalColumns);
        try {
          await stream(loader);
          const started = performance.now();
          await loader.finish();
          report.addPhase({ name: "load_remaining", sourceRows: 0, seconds: (performance.now() - started) / 1000 });
        } catch (error) {
          loader.discard();
          throw error;
        }
      }),
  };
}

async function migrateWithin(
  options: MigrateOptions,
  synapse: SynapseSide,
  tx: TxClient,
): Promise<{ value: MigrateOutcome; commit: boolean }> {
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
