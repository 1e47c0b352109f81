/** Mapped rows to COPY text in spool chunks per table, handed to the loader as each chunk fills. */
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { MasRow, MasTableName } from "../model/mas.ts";
import { encodeCopyRow } from "./copy-encode.ts";
import type { ChunkLoader } from "./loader.ts";
import { Spool } from "./spool.ts";
import { columnsFor, type ColumnSpec } from "./tables.ts";

/** Characters gathered before one write to a spool: fewer, larger writes. */
const BUFFER_CHARS = 256 * 1024;
/** Rows per chunk: small enough that loading starts early, large enough that a COPY per chunk is cheap. */
const CHUNK_ROWS = 50_000;

/** One table's current chunk: a spool file being written. */
class TableChunks {
  // A string grown with += (V8 ropes) is cheaper here than an array joined at each flush.
  private buffer = "";
  private spool: Spool | undefined;
  private stream: Writable | undefined;
  private chunkRows = 0;
  rows = 0;

  constructor(
    readonly table: MasTableName,
    readonly columns: ColumnSpec<MasTableName>[],
    private readonly loader: ChunkLoader,
  ) {}

  /** Appends one row; returns true when {@link flush} is due (buffer or chunk full). */
  add(row: MasRow["row"]): boolean {
    this.buffer += encodeCopyRow(this.columns, row as never);
    this.rows++;
    this.chunkRows++;
    return this.buffer.length >= BUFFER_CHARS || this.chunkRows >= CHUNK_ROWS;
  }

  /** Writes the buffer to the spool, and seals the chunk when it is full. */
  async flush(): Promise<void> {
    if (this.buffer.length > 0) {
      if (this.stream === undefined) {
        this.spool = new Spool(this.table);
        this.stream = this.spool.writer();
      }
      const chunk = this.buffer;
      this.buffer = "";
      if (!this.stream.write(chunk)) await once(this.stream, "drain");
    }
    if (this.chunkRows >= CHUNK_ROWS) await this.seal();
  }

  /** Ends the current chunk and queues it for loading. */
  async seal(): Promise<void> {
    if (this.buffer.length > 0) await this.flush();
    if (this.stream === undefined || this.spool === undefined) return;
    const { stream, spool } = this;
    this.stream = undefined;
    this.spool = undefined;
    this.chunkRows = 0;
    stream.end();
    await once(stream, "finish");
    await this.loader.enqueue({ table: this.table, columns: this.columns, spool });
  }

  discard(): void {
    this.stream?.destroy();
    this.spool?.close();
    this.stream = undefined;
    this.spool = undefined;
  }
}

/** Writes the rows of one phase into chunks of its tables. */
export class PhaseWriter {
  private readonly tables = new Map<MasTableName, TableChunks>();

  constructor(tables: readonly MasTableName[], optionalColumns: ReadonlySet<string>, loader: ChunkLoader) {
    for (const table of tables) {
      const columns = columnsFor(table, optionalColumns) as ColumnSpec<MasTableName>[];
      this.tables.set(table, new TableChunks(table, columns, loader));
    }
  }

  /**
   * Queues rows for their tables. Synchronous on the hot path: it only waits (for a write, or for
   * the loader to make room) when a buffer or chunk is full, instead of one promise per row.
   */
  add(entries: readonly MasRow[]): Promise<void> | undefined {
    let full: TableChunks[] | undefined;
    for (const entry of entries) {
      const sink = this.tables.get(entry.table);
      if (sink === undefined) throw new Error(`phase has no sink for table ${entry.table}`);
      if (sink.add(entry.row)) (full ??= []).push(sink);
    }
    return full === undefined ? undefined : flushAll(full);
  }

  /** Seals every table's last chunk. Returns rows written per table (loaded once the loader finishes). */
  async finish(): Promise<Map<MasTableName, number>> {
    for (const sink of this.tables.values()) await sink.seal();
    return new Map([...this.tables].map(([table, sink]) => [table, sink.rows]));
  }

  /** Releases open chunks (after a failure). */
  discard(): void {
    for (const sink of this.tables.values()) sink.discard();
  }
}

async function flushAll(sinks: TableChunks[]): Promise<void> {
  for (const sink of new Set(sinks)) await sink.flush();
}
