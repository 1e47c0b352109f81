/** Bulk writes of mapped rows into MAS with COPY: one live COPY per phase, other tables spooled and copied after. */
import { randomUUID } from "node:crypto";
import { openSync, unlinkSync, closeSync, createReadStream, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { once } from "node:events";
import { from as copyFrom } from "pg-copy-streams";
import type { MasRow, MasTableName } from "../model/mas.ts";
import { encodeCopyRow } from "./copy-encode.ts";
import { columnsFor, type ColumnSpec } from "./tables.ts";
import type { TxClient } from "./transaction.ts";

/** Characters gathered before one write to a stream: fewer, larger writes. */
const CHUNK_BYTES = 256 * 1024;

/** A destination for one table's COPY text: buffered, honouring back-pressure. */
class CopySink {
  // A string grown with += (V8 ropes) is cheaper here than an array joined at each flush.
  private buffer = "";
  rows = 0;

  constructor(
    readonly table: MasTableName,
    readonly columns: ColumnSpec<MasTableName>[],
    private readonly stream: Writable,
  ) {}

  /** Appends one row; returns true when the buffer is full and {@link flush} is due. */
  add(row: MasRow["row"]): boolean {
    this.buffer += encodeCopyRow(this.columns, row as never);
    this.rows++;
    return this.buffer.length >= CHUNK_BYTES;
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const chunk = this.buffer;
    this.buffer = "";
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }

  async end(): Promise<void> {
    await this.flush();
    this.stream.end();
    await once(this.stream, "finish");
  }
}

/**
 * A spool file that only this process can reach: it is unlinked right after it is opened, so
 * tokens and hashes written to it vanish with the process, even after `kill -9`.
 */
class Spool {
  readonly fd: number;
  constructor(name: string) {
    const path = join(tmpdir(), `syn2mas-${randomUUID()}-${name}`);
    this.fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
  }
  writer(): Writable {
    return createWriteStream("", { fd: this.fd, autoClose: false });
  }
  reader(): NodeJS.ReadableStream {
    return createReadStream("", { fd: this.fd, autoClose: false, start: 0 });
  }
  close(): void {
    closeSync(this.fd);
  }
}

function copySql(table: MasTableName, columns: ColumnSpec<MasTableName>[]): string {
  return `COPY ${table} (${columns.map((c) => c.name).join(", ")}) FROM STDIN`;
}

/** Writes the rows of one phase: `tables[0]` streams live into COPY, the others are spooled then copied. */
export class PhaseWriter {
  private readonly sinks = new Map<MasTableName, CopySink>();
  private readonly spools = new Map<MasTableName, Spool>();
  private primaryDone: Promise<void> | undefined;

  private constructor(
    private readonly tx: TxClient,
    private readonly tables: readonly MasTableName[],
  ) {}

  /** Opens the COPY of the first table and the spools of the others. */
  static open(tx: TxClient, tables: readonly MasTableName[], optionalColumns: ReadonlySet<string>): PhaseWriter {
    const writer = new PhaseWriter(tx, tables);
    tables.forEach((table, index) => {
      const columns = columnsFor(table, optionalColumns) as ColumnSpec<MasTableName>[];
      let stream: Writable;
      if (index === 0) {
        stream = tx.query(copyFrom(copySql(table, columns)));
        writer.primaryDone = once(stream, "finish").then(() => undefined);
        // A failed COPY rejects this early; it is awaited in finish(), so mark it handled here.
        writer.primaryDone.catch(() => undefined);
      } else {
        const spool = new Spool(table);
        writer.spools.set(table, spool);
        stream = spool.writer();
      }
      writer.sinks.set(table, new CopySink(table, columns, stream));
    });
    return writer;
  }

  /**
   * Queues rows for their tables. Synchronous on the hot path: it only waits (for the stream to
   * drain) when a table's buffer is full, instead of one promise per row.
   */
  add(entries: readonly MasRow[]): Promise<void> | undefined {
    let full: CopySink[] | undefined;
    for (const entry of entries) {
      const sink = this.sinks.get(entry.table);
      if (sink === undefined) throw new Error(`phase has no sink for table ${entry.table}`);
      if (sink.add(entry.row)) (full ??= []).push(sink);
    }
    return full === undefined ? undefined : Promise.all(full.map((sink) => sink.flush())).then(() => undefined);
  }

  /** Ends the live COPY, then copies each spool in table order. Returns rows written per table. */
  async finish(): Promise<Map<MasTableName, number>> {
    const written = new Map<MasTableName, number>();
    try {
      for (const table of this.tables) {
        const sink = this.sinks.get(table) as CopySink;
        await sink.end();
        const spool = this.spools.get(table);
        if (spool !== undefined) {
          await pipeline(spool.reader(), this.tx.query(copyFrom(copySql(table, sink.columns))));
        }
        written.set(table, sink.rows);
      }
      await this.primaryDone;
      return written;
    } finally {
      this.discard();
    }
  }

  /** Releases the spools (also after a failure). */
  discard(): void {
    for (const spool of this.spools.values()) {
      try {
        spool.close();
      } catch {
        // already closed
      }
    }
    this.spools.clear();
  }
}
