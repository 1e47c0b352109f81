/** Mapped rows to COPY text in spool chunks per table, handed to the loader as each chunk fills. */
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { MasRow, MasTableName } from "../model/mas.ts";
import { encodeCopyRow } from "./copy-encode.ts";
import type { ChunkLoader } from "./loader.ts";
import { Spool } from "./spool.ts";
import { columnsFor, type ColumnSpec } from "./tables.ts";

/** Bytes gathered before one write to a spool: fewer, larger writes. */
const BUFFER_BYTES = 256 * 1024;
/** Rows per chunk: small enough that loading starts early, large enough that a COPY per chunk is cheap. */
const CHUNK_ROWS = 50_000;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit. */
const MAX_UTF8_PER_UNIT = 3;

/** One table's current chunk: a spool file being written. */
class TableChunks {
  /**
   * Each row's line goes into this buffer as soon as it is encoded: lines die young instead of
   * piling up as strings until a flush, which cost more in garbage collection than all the mapping.
   */
  private buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  /** Filled buffers waiting to be written to the spool. */
  private filled: Buffer[] = [];
  private spool: Spool | undefined;
  private stream: Writable | undefined;
  private chunkRows = 0;
  rows = 0;

  constructor(
    readonly table: MasTableName,
    readonly columns: ColumnSpec<MasTableName>[],
    private readonly loader: ChunkLoader,
  ) {}

  /** Appends one row; returns true when {@link flush} is due (a buffer filled, or the chunk is full). */
  add(row: MasRow["row"]): boolean {
    const line = encodeCopyRow(this.columns, row as never);
    const worst = line.length * MAX_UTF8_PER_UNIT;
    if (this.used + worst > this.buffer.length) this.retireBuffer();
    if (worst > this.buffer.length)
      this.filled.push(Buffer.from(line, "utf8")); // larger than a buffer: on its own
    else this.used += this.buffer.write(line, this.used, "utf8");
    this.rows++;
    this.chunkRows++;
    return this.filled.length > 0 || this.chunkRows >= CHUNK_ROWS;
  }

  /** Hands the current buffer's bytes to the filled ones and starts a new buffer. */
  private retireBuffer(): void {
    if (this.used === 0) return;
    this.filled.push(this.buffer.subarray(0, this.used));
    this.buffer = Buffer.allocUnsafe(BUFFER_BYTES);
    this.used = 0;
  }

  /** Writes the filled buffers to the spool, opening it on the first write. */
  private async writeFilled(): Promise<void> {
    if (this.filled.length === 0) return;
    if (this.stream === undefined) {
      this.spool = new Spool(this.table);
      this.stream = this.spool.writer();
    }
    const filled = this.filled;
    this.filled = [];
    let drained = true;
    for (const buffer of filled) drained = this.stream.write(buffer);
    if (!drained) await once(this.stream, "drain");
  }

  /** Writes the filled buffers, and seals the chunk when it is full. */
  async flush(): Promise<void> {
    await this.writeFilled();
    if (this.chunkRows >= CHUNK_ROWS) await this.seal();
  }

  /** Ends the current chunk and queues it for loading. */
  async seal(): Promise<void> {
    this.retireBuffer();
    await this.writeFilled();
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
