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
import { connect } from "./connect.ts";
import { connectionsFor, unreadableSource, type RunSetup } from "./connections.ts";
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

/**
 * Runs the checks, then loads everything. Errors block before anything is written. Without
 * --strict, warnings cannot block: the ones about Synapse's data (they scan every table) run on the
 * snapshot's extra connections while rows load, and are reported at the end.
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
  // The migration's "now": the checks judge ended sessions at the same time as the mappers.
  const startedAt = Date.now();
  const checks = await runPreconditions(
    { ...options, synapseDb: readers, ownSynapsePids: readers.pids, masDb: tx, realRun: !options.dryRun, writesMas: true, now: startedAt },
    // The main connection streams the rows: the background checks keep to the others.
    { advisoryInBackground: background, beforeBackground: () => readers.detachMain() },
  );
  if (blocks(checks.findings)) return blocked(await checks.complete);
  const ctx: MappingContext = {
    serverName: options.synapse.serverName,
    startedAt,
    providers: options.providers,
    deriveId: runIdDeriver(),
  };
  const report = new ReportBuilder(options.dryRun);
  await withIndexesRebuiltAfter(tx, report, async () => {
    const loader = new ChunkLoader(tx);
    try {
      const run = { source, loader, ctx, optionalColumns: checks.presentOptionalColumns, report, progress: options.progress };
      for (const phase of PHASES) await runPhase(phase, run);
      const started = performance.now();
      await loader.finish();
      report.addPhase({ name: "load_remaining", sourceRows: 0, seconds: (performance.now() - started) / 1000 });
    } catch (error) {
      loader.discard();
      throw error;
    }
  });
  const findings = await checks.complete;
  // Only warnings and information ran in the background, and they block only with --strict, which
  // runs them up front; checked anyway, so that nothing a check blocks is ever committed.
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
  const named = connectionsFor(options, options.dryRun ? "dry-run" : "migrate");
  return withSynapseAndMas(named, (synapse, masDb) =>
    withTransaction(masDb, (tx) => migrateWithin(options, synapse, tx), () => connect(named.masTarget)),
  );
}
