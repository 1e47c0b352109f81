/** The only module that joins source -> mapping -> target. Owns the MAS transaction of a migration. */
import type { Finding } from "../checks/finding.ts";
import { runPreconditions } from "../checks/preconditions.ts";
import { applyPolicy, blocksMigration } from "../checks/policy.ts";
import type { MappingContext } from "../mapping/context.ts";
import { ReportBuilder, type MigrationReport } from "../report/report.ts";
import type { SnapshotReaders } from "../source/snapshot-readers.ts";
import type { SynapseSource } from "../source/source.ts";
import { captureConstraints, runAll } from "../target/constraints.ts";
import { ChunkLoader } from "../target/loader.ts";
import { TABLE_ORDER } from "../target/tables.ts";
import { withTransaction, type TxClient } from "../target/transaction.ts";
import { unreadableSource, type RunSetup } from "./connections.ts";
import { withSynapseAndMas, type SynapseSide } from "./open-source.ts";
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
  synapse: SynapseSide,
  tx: TxClient,
): Promise<{ value: MigrateOutcome; commit: boolean }> {
  const started = performance.now();
  const source = await synapse.openSource();
  try {
    const readers = await synapse.openReaders();
    try {
      return await checkThenLoad(options, readers, source, tx, started);
    } finally {
      await readers.close();
    }
  } finally {
    await source.close();
  }
}

/** Thrown between batches once a check running alongside the load found an error. */
class BlockedByChecks extends Error {}

/**
 * Runs the checks, then loads everything. Without --strict, the checks of Synapse's data run on
 * the snapshot's extra connections while rows load (the slowest checks scan every table): the load
 * happens inside the MAS transaction, so an error they find stops it at the next batch and the
 * transaction is rolled back, leaving MAS exactly as before, as when a check blocks up front.
 */
async function checkThenLoad(
  options: MigrateOptions,
  readers: SnapshotReaders,
  source: SynapseSource,
  tx: TxClient,
  started: number,
): Promise<{ value: MigrateOutcome; commit: boolean }> {
  const blocked = (findings: Finding[]): { value: MigrateOutcome; commit: boolean } => ({
    value: { status: "blocked", findings: applyPolicy(findings, options.policy) },
    commit: false,
  });
  const blocks = (findings: Finding[]): boolean =>
    applyPolicy(findings, options.policy).some((f) => blocksMigration(f, options.policy));
  const background = !options.policy.strict && readers.extra > 0;
  // The main connection streams the rows: the checks keep to the others.
  if (background) await readers.detachMain();
  const checks = await runPreconditions(
    { ...options, synapseDb: readers, ownSynapsePids: readers.pids, masDb: tx, realRun: !options.dryRun },
    { synapseDataInBackground: background },
  );
  if (blocks(checks.findings)) return blocked(await checks.complete);
  let blockedWhileLoading = false;
  checks.complete.then(
    (findings) => (blockedWhileLoading = blocks(findings)),
    () => undefined, // awaited below, where its failure is thrown
  );
  const checkpoint = (): void => {
    if (blockedWhileLoading) throw new BlockedByChecks("a check found an error");
  };
  const ctx: MappingContext = {
    serverName: options.synapse.serverName,
    startedAt: Date.now(),
    providers: options.providers,
    deriveId: runIdDeriver(),
  };
  const report = new ReportBuilder(options.dryRun);
  try {
    await withIndexesRebuiltAfter(tx, report, async () => {
      const loader = new ChunkLoader(tx);
      try {
        const run = { source, loader, ctx, optionalColumns: checks.presentOptionalColumns, report, progress: options.progress, checkpoint };
        for (const phase of PHASES) await runPhase(phase, run);
        const started = performance.now();
        await loader.finish();
        report.addPhase({ name: "load_remaining", sourceRows: 0, seconds: (performance.now() - started) / 1000 });
        checkpoint(); // before the index rebuild, the longest step without batches
      } catch (error) {
        loader.discard();
        throw error;
      }
    });
  } catch (error) {
    // A load that fails on bad data the checks describe is reported as their findings.
    const findings = await checks.complete;
    if (blocks(findings)) return blocked(findings);
    throw error;
  }
  const findings = await checks.complete;
  if (blocks(findings)) return blocked(findings);
  report.report.totalSeconds = (performance.now() - started) / 1000;
  return { value: { status: "done", findings: applyPolicy(findings, options.policy), report: report.report }, commit: !options.dryRun };
}

/**
 * Checks, then migrates everything in one MAS transaction, reading Synapse in one read-only
 * snapshot. Blocked by any error finding (nothing is written). A dry run ends in ROLLBACK.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateOutcome> {
  const unreadable = unreadableSource(options);
  if (unreadable) return { status: "blocked", findings: unreadable };
  return withSynapseAndMas(options, (synapse, masDb) =>
    withTransaction(masDb, (tx) => migrateWithin(options, synapse, tx)),
  );
}
