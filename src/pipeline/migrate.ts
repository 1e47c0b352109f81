/** The only module that joins source -> mapping -> target. Owns both connections and the MAS transaction. */
import type pg from "pg";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import type { Finding } from "../checks/finding.ts";
import { configRules, runPreconditions } from "../checks/preconditions.ts";
import { applyPolicy, blocksMigration, type FindingPolicy } from "../checks/policy.ts";
import type { MappingContext } from "../mapping/context.ts";
import type { MasId } from "../model/ids.ts";
import { ReportBuilder, type MigrationReport } from "../report/report.ts";
import { openPostgresSource } from "../source/postgres.ts";
import { countSkips } from "../source/postgres-skip-counts.ts";
import type { SynapseSource } from "../source/source.ts";
import { withTransaction, type TxClient } from "../target/transaction.ts";
import { PhaseWriter } from "../target/writer.ts";
import { connect, type ConnectTarget } from "./connect.ts";
import { PHASES, type Phase } from "./phases.ts";
import { runIdDeriver } from "./run-ids.ts";

export interface MigrateOptions {
  synapse: SynapseConfig;
  mas: MasConfig;
  synapseTarget: ConnectTarget;
  masTarget: ConnectTarget;
  providers: ReadonlyMap<string, MasId>;
  dryRun: boolean;
  allowRunningSynapse: boolean;
  skipInvalidRows: boolean;
  /** Accepted warnings and --strict. */
  policy: FindingPolicy;
  /** Told when each phase starts and ends (for progress output). */
  onPhase?: (event: { phase: string; state: "start" | "end"; rows: number }) => void;
}

export type MigrateOutcome =
  | { status: "blocked"; findings: Finding[] }
  | { status: "done"; findings: Finding[]; report: MigrationReport };

async function runPhase(
  phase: Phase,
  source: SynapseSource,
  tx: TxClient,
  ctx: MappingContext,
  optionalColumns: ReadonlySet<string>,
  report: ReportBuilder,
): Promise<number> {
  const writer = phase.tables.length > 0 ? PhaseWriter.open(tx, phase.tables, optionalColumns) : undefined;
  let sourceRows = 0;
  try {
    for await (const row of phase.read(source)) {
      sourceRows++;
      const result = phase.map(row, ctx);
      report.tally(result);
      for (const entry of result.rows) await (writer as PhaseWriter).add(entry);
    }
  } catch (error) {
    writer?.discard();
    throw error;
  }
  if (writer !== undefined) {
    for (const [table, rows] of await writer.finish()) report.addWritten(table, rows);
  }
  return sourceRows;
}

async function migrateWithin(
  options: MigrateOptions,
  synapseDb: pg.Client,
  tx: TxClient,
): Promise<{ value: MigrateOutcome; commit: boolean }> {
  const started = performance.now();
  const source = await openPostgresSource(synapseDb);
  try {
    const checks = await runPreconditions({
      synapse: options.synapse,
      mas: options.mas,
      providers: options.providers,
      synapseDb,
      masDb: tx,
      realRun: !options.dryRun,
      allowRunningSynapse: options.allowRunningSynapse,
      skipInvalidRows: options.skipInvalidRows,
    });
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
    for (const phase of PHASES) {
      options.onPhase?.({ phase: phase.name, state: "start", rows: 0 });
      const phaseStart = performance.now();
      const rows = await runPhase(phase, source, tx, ctx, checks.presentOptionalColumns, report);
      report.addPhase({ name: phase.name, sourceRows: rows, seconds: (performance.now() - phaseStart) / 1000 });
      options.onPhase?.({ phase: phase.name, state: "end", rows });
    }
    // Deferred constraints (if any) are checked now, so a dry run fails exactly where a real run would.
    await tx.query("SET CONSTRAINTS ALL IMMEDIATE");
    report.report.totalSeconds = (performance.now() - started) / 1000;
    return { value: { status: "done", findings, report: report.report }, commit: !options.dryRun };
  } finally {
    await source.close();
  }
}

/**
 * The configuration findings when Synapse's database is not one this tool can read: then there is
 * nothing to connect to, and connecting to libpq's defaults instead would reach some other database.
 */
function unreadableSource(options: Pick<MigrateOptions, "synapse" | "mas" | "policy">): Finding[] | undefined {
  const findings = applyPolicy(configRules(options.synapse, options.mas), options.policy);
  return findings.some((f) => f.code === "UNSUPPORTED_DATABASE") ? findings : undefined;
}

/** Opens both connections, runs `work`, and always closes them. */
async function withConnections<T>(
  options: Pick<MigrateOptions, "synapseTarget" | "masTarget">,
  work: (synapseDb: pg.Client, masDb: pg.Client) => Promise<T>,
): Promise<T> {
  const synapseDb = await connect(options.synapseTarget);
  try {
    const masDb = await connect(options.masTarget);
    try {
      return await work(synapseDb, masDb);
    } finally {
      await masDb.end().catch(() => undefined);
    }
  } finally {
    await synapseDb.end().catch(() => undefined);
  }
}

/** What `check` found, and what `migrate` would skip (null when Synapse's schema could not be read). */
export interface CheckOutcome {
  findings: Finding[];
  wouldSkip: MigrationReport["skipped"] | null;
}

/**
 * Runs the preconditions alone, writing nothing: both sides are read in read-only transactions.
 * When Synapse's schema is readable, also counts in SQL, in the same snapshot, what `migrate`
 * would skip, with the same reasons as its report.
 */
export async function check(options: Omit<MigrateOptions, "dryRun" | "onPhase">): Promise<CheckOutcome> {
  const unreadable = unreadableSource(options);
  if (unreadable) return { findings: unreadable, wouldSkip: null };
  return withConnections(options, async (synapseDb, masDb) => {
    await openPostgresSource(synapseDb);
    await masDb.query("BEGIN READ ONLY");
    try {
      const result = await runPreconditions({ ...options, synapseDb, masDb, realRun: false });
      const findings = applyPolicy(result.findings, options.policy);
      const schemaReadable = !findings.some((f) => f.code === "SYNAPSE_SCHEMA_UNSUPPORTED" || f.code === "UNSUPPORTED_DATABASE");
      const wouldSkip = schemaReadable ? await countSkips(synapseDb, options.synapse.serverName, options.providers) : null;
      return { findings, wouldSkip };
    } finally {
      await masDb.query("ROLLBACK").catch(() => undefined);
    }
  });
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
