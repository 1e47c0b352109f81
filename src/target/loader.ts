/** Loads sealed spool chunks into MAS with COPY, one after another on the transaction's connection. */
import { pipeline } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import type { MasTableName } from "../model/mas.ts";
import type { PhaseSink, RowSink } from "./sink.ts";
import type { Spool } from "./spool.ts";
import type { ColumnSpec } from "./tables.ts";
import type { TxClient } from "./transaction.ts";
import { PhaseWriter } from "./writer.ts";

/** A finished chunk of one table's COPY text. */
export interface SealedChunk {
  table: MasTableName;
  columns: ColumnSpec<MasTableName>[];
  spool: Spool;
}

/**
 * Copies chunks in the order they are queued while the mapper goes on producing the next ones:
 * mapping (CPU in this process) and loading (CPU in PostgreSQL) overlap. At most `maxQueued`
 * chunks wait, so a slow database holds the mapper back instead of filling the disk.
 */
/** Work on the transaction's connection, run in turn with the chunks queued before it (verify's comparisons). */
export type ConnectionTask = () => Promise<void>;

type Queued = { chunk: SealedChunk } | { task: ConnectionTask };

export class ChunkLoader implements RowSink {
  private readonly queue: Queued[] = [];
  /** Chunks in {@link queue} (tasks do not count against maxQueued: they hold no spool). */
  private queuedChunks = 0;
  private draining: Promise<void> | undefined;
  private failure: unknown;
  private readonly spaceWaiters: (() => void)[] = [];

  /**
   * `optionalColumns`: the optional MAS columns present in the target, written when a phase has
   * them. `tableName`: where a MAS table's rows go (default: the table of that name).
   */
  constructor(
    private readonly tx: TxClient,
    private readonly optionalColumns: ReadonlySet<string>,
    private readonly maxQueued = 4,
    private readonly tableName: (table: MasTableName) => string = (table) => table,
  ) {}

  /** A phase's rows become COPY text in spool chunks (src/target/writer.ts), queued here as each fills. */
  openPhase(tables: readonly MasTableName[]): PhaseSink {
    return new PhaseWriter(tables, this.optionalColumns, this);
  }

  /** Queues a chunk; waits while the queue is full. Rethrows a failure of an earlier load. */
  async enqueue(chunk: SealedChunk): Promise<void> {
    this.throwIfFailed();
    this.queue.push({ chunk });
    this.queuedChunks++;
    this.draining ??= this.drain();
    while (this.queuedChunks > this.maxQueued && this.failure === undefined) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    this.throwIfFailed();
  }

  /**
   * Runs `task` on the connection once every chunk queued so far is loaded, while the mapper goes on
   * queueing the next ones. Its failure fails the load, as a chunk's would.
   */
  runAfterQueued(task: ConnectionTask): void {
    this.throwIfFailed();
    this.queue.push({ task });
    this.draining ??= this.drain();
  }

  /** Waits until every queued chunk is loaded. */
  async finish(): Promise<void> {
    await this.draining;
    this.throwIfFailed();
  }

  /** Closes queued spools after a failure elsewhere. */
  discard(): void {
    for (const queued of this.queue.splice(0)) if ("chunk" in queued) queued.chunk.spool.close();
    this.queuedChunks = 0;
  }

  private async drain(): Promise<void> {
    try {
      for (let queued = this.queue.shift(); queued !== undefined; queued = this.queue.shift()) {
        if ("task" in queued) {
          await queued.task();
          continue;
        }
        const { chunk } = queued;
        this.queuedChunks--;
        this.spaceWaiters.shift()?.();
        try {
          const sql = `COPY ${this.tableName(chunk.table)} (${chunk.columns.map((c) => c.name).join(", ")}) FROM STDIN`;
          await pipeline(chunk.spool.reader(), this.tx.query(copyFrom(sql)));
        } finally {
          chunk.spool.close();
        }
      }
    } catch (error) {
      this.failure = error;
      this.discard();
    } finally {
      this.draining = undefined;
      for (const wake of this.spaceWaiters.splice(0)) wake();
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
