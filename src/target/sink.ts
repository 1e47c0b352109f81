/** Where mapped MAS rows go: `migrate`'s COPY loader, or `check`'s counter (src/pipeline/counting-sink.ts). */
import type { MasRow, MasTableName } from "../model/mas.ts";

/** Takes the rows of one phase at a time. */
export interface RowSink {
  /** Opens the rows of one phase, written to `tables`. */
  openPhase(tables: readonly MasTableName[]): PhaseSink;
}

/** The rows of one phase. */
export interface PhaseSink {
  /** Takes rows; returns a promise only when the caller must wait (a buffer or a queue is full). */
  add(rows: readonly MasRow[]): Promise<void> | undefined;
  /** Ends the phase; returns the rows taken per table. */
  finish(): Promise<Map<MasTableName, number>>;
  /** Releases what the phase holds (after a failure). */
  discard(): void;
}
