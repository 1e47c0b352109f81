/** The only module that joins source -> mapping -> target. Owns the MAS transaction of a migration. */
import type pg from "pg";
import type { Finding } from "../checks/finding.ts";
import { runPreconditions } from "../checks/preconditions.ts";
import { applyPolicy, blocksMigration } from "../checks/policy.ts";
import type { MappingContext } from "../mapping/context.ts";
import { ReportBuilder, type MigrationReport } from "../report/report.ts";
import { openPostgresSource } from "../source/postgres.ts";
import { captureConstraints, runAll } from "../target/constraints.ts";
import { TABLE_ORDER } from "../target/tables.ts";
import { withTransaction, type TxClient } from "../target/transaction.ts";
import { unreadableSource, withConnections, withSnapshotReaders, type RunSetup } from "./connections.ts";
import { PHASES } from "./phases.ts";
import type { ProgressListener } from "./progress.ts";
import { runIdDeriver } from "./run-ids.ts";
import { runPhase } from "./run-phase.ts";

export interface MigrateOptions extends RunSetup {
  dryRun: boolean;
  /** Told as phases start, advance and end. */
  progress?: ProgressListener;
}

export type MigrateOutcome =
  | { status: "blocked"; findings: Finding[] }
  | { status: "done"; findings: Finding[]; report: MigrationReport };

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

async function migrateWithin(
  options: MigrateOptions,
  synapseDb: pg.Client,
  tx: TxClient,
): Promise<{ value: MigrateOutcome; commit: boolean }> {
  const started = performance.now();
  const source = await openPostgresSource(synapseDb);
  try {
    const checks = await withSnapshotReaders(options, synapseDb, (readers) =>
      runPreconditions({ ...options, synapseDb: readers, ownSynapsePids: readers.pids, masDb: tx, realRun: !options.dryRun }),
    );
    const findings = applyPolicy(checks.findings, options.policy);
    if (findings.some((f) => blocksMigration(f, options.policy))) {
      return { value: { status: "blocked", findings }, commit: false };
    }
    const ctx: MappingContext = {
      serverName: options.synapse.serverName,
      startedAt: Date.now(),
      providers: options.providers,
      deriveId: runIdDeriver(),
    };
    const report = new ReportBuilder(options.dryRun);
    await withIndexesRebuiltAfter(tx, report, async () => {
      for (const phase of PHASES) {
        await runPhase(phase, source, tx, ctx, checks.presentOptionalColumns, report, options.progress);
      }
    });
    report.report.totalSeconds = (performance.now() - started) / 1000;
    return { value: { status: "done", findings, report: report.report }, commit: !options.dryRun };
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
  return withConnections(options, (synapseDb, masDb) =>
    withTransaction(masDb, (tx) => migrateWithin(options, synapseDb, tx)),
  );
}
