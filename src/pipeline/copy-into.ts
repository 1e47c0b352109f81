/** Migrate's destination: the COPY loader inside the run's transaction, the indexes rebuilt after it. */
import type { MasTableName } from "../model/mas.ts";
import { timedStep, type ReportBuilder } from "../report/report.ts";
import { captureConstraints, runAll } from "../target/constraints.ts";
import { ChunkLoader } from "../target/loader.ts";
import { TABLE_ORDER } from "../target/tables.ts";
import type { RowSink } from "../target/sink.ts";
import type { TxClient } from "../target/transaction.ts";
import type { RowDestination } from "./check-then-stream.ts";

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
  await timedStep(report.report, "rebuild_indexes", () => runAll(tx, saved.rebuilds));
}

/**
 * Streams the rows into a COPY loader on `tx` and waits until every chunk is loaded (its spools
 * released on a failure). Returns how long that last wait took, after the streaming ended.
 * `tableName`: where a MAS table's rows go (default: the table of that name).
 */
export async function loadThroughCopy(
  tx: TxClient,
  optionalColumns: ReadonlySet<string>,
  stream: (sink: RowSink) => Promise<void>,
  tableName?: (table: MasTableName) => string,
): Promise<number> {
  const loader = new ChunkLoader(tx, optionalColumns, undefined, tableName);
  try {
    await stream(loader);
    const started = performance.now();
    await loader.finish();
    return (performance.now() - started) / 1000;
  } catch (error) {
    loader.discard();
    throw error;
  }
}

/** Migrate's destination: the COPY loader inside the transaction, the indexes rebuilt after it. */
export function copyInto(tx: TxClient, dryRun: boolean): RowDestination {
  return {
    stopsWhenBlocked: true,
    writesMas: true,
    realRun: !dryRun,
    receive: (stream, optionalColumns, report) =>
      withIndexesRebuiltAfter(tx, report, async () => {
        const seconds = await loadThroughCopy(tx, optionalColumns, stream);
        report.addPhase({ name: "load_remaining", sourceRows: 0, seconds });
      }),
  };
}
