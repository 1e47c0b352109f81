/**
 * The checks' view of a SQLite Synapse database (see SnapshotReaders): the source's connection,
 * and, when the file is read `immutable`, extra connections reading the very same unchanging file,
 * so that queries run in parallel on the thread pool. SQLite's answers to the questions whose
 * PostgreSQL answer lives in its catalog or server: which columns, tables and unique indexes exist
 * (pragmas), who else has the database open (its files and locks), and one pattern match SQLite
 * cannot do in SQL (device IPs, judged by decodeIp itself).
 */
import { decodeIp } from "../decode.ts";
import type { CountSample, OtherSession, SnapshotReaders, SqlDialect } from "../snapshot-readers.ts";
import { SnapshotPool } from "../snapshot-pool.ts";
import type { PagedRead, SqliteConnection } from "./driver.ts";
import { keysetPages } from "./driver.ts";
import { sqliteInUse } from "./files.ts";

/** Rows per page when a check streams rows through JavaScript. */
const PAGE_ROWS = 4096;

export const SQLITE_DIALECT: SqlDialect = {
  engine: "sqlite",
  // `?n`: SQLite numbers `$n` by first appearance, not by n.
  param: (n) => `?${n}`,
  strpos: (text, part) => `instr(${text}, ${part})`,
  // No regular expressions: see SqliteSnapshot.countUnparsableIps.
  unparsableIp: undefined,
};

/** Byte order of UTF-8, which is PostgreSQL's C collation and SQLite's BINARY one. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

export class SqliteSnapshot implements SnapshotReaders {
  readonly dialect = SQLITE_DIALECT;
  /** This process's connections have no pids: {@link otherSessions} leaves this process out itself. */
  readonly pids: number[] = [];
  readonly extra: number;
  private readonly pool: SnapshotPool<SqliteConnection>;

  constructor(
    /** The source's connection (its owner closes it). */
    main: SqliteConnection,
    /** More connections in the same snapshot, closed by {@link close}. */
    extras: readonly SqliteConnection[],
    /** The database file, for {@link otherSessions}. */
    readonly path: string,
  ) {
    this.pool = new SnapshotPool(main, extras);
    this.extra = extras.length;
  }

  async rows<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return (await this.pool.using((c) => c.all(sql, params ?? []))) as unknown as R[];
  }

  /** Takes the source's connection out of the pool once it is idle (see SnapshotReaders). Needs `extra` > 0. */
  detachMain(): Promise<void> {
    return this.pool.detachMain();
  }

  /** Ends the extra connections' read transactions and closes them; the source's connection stays. */
  async close(): Promise<void> {
    await Promise.all(this.pool.extras.map((c) => c.close().catch(() => undefined)));
  }

  /** information_schema's answer, from pragma_table_info. */
  async presentColumns(tables: readonly string[]): Promise<Set<string>> {
    const rows = await this.rows<{ t: string; c: string }>(
      `SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p
        WHERE m.type = 'table' AND m.name IN (${tables.map(() => "?").join(", ")})`,
      [...tables],
    );
    return new Set(rows.map((r) => `${String(r.t)}.${String(r.c)}`));
  }

  async tableExists(table: string): Promise<boolean> {
    const rows = await this.rows("SELECT 1 AS ok FROM sqlite_master WHERE type = 'table' AND name = ?1", [table]);
    return rows.length > 0;
  }

  async uniqueIndexes(table: string): Promise<string[][]> {
    const rows = await this.rows<{ i: string; c: string | null }>(
      `SELECT il.name AS i, ii.name AS c FROM pragma_index_list('${table.replace(/'/g, "''")}') il JOIN pragma_index_info(il.name) ii
          WHERE il."unique" = 1 AND il.partial = 0`,
    );
    const byIndex = new Map<string, (string | null)[]>();
    for (const r of rows) byIndex.set(r.i, [...(byIndex.get(r.i) ?? []), r.c]);
    return [...byIndex.values()].filter((cols) => cols.every((c) => c !== null)) as string[][];
  }

  /** Signs that Synapse has the file open or did not shut down cleanly (this process's own locks aside). */
  async otherSessions(): Promise<OtherSession[]> {
    return sqliteInUse(this.path).map((who) => ({ applicationName: "", who }));
  }

  /**
   * SQLite has no regular expressions: the test runs here, over pages of device ids and IPs.
   * Examples are distinct device ids in byte order.
   */
  async countUnparsableIps(from: string, where: string, serverName: string, limit: number): Promise<CountSample> {
    const read: PagedRead = {
      columns: [
        ["k", "d.rowid"],
        ["e", "d.device_id"],
        ["ip", "d.ip"],
      ],
      from: `FROM ${from} WHERE (${where}) AND d.ip IS NOT NULL AND d.rowid > ?2 ORDER BY d.rowid LIMIT ?3`,
      order: "k",
    };
    let count = 0;
    const examples: string[] = []; // the smallest `limit` distinct ids, sorted: memory stays flat
    const keep = (id: string): void => {
      const at = examples.findIndex((e) => byUtf8(id, e) <= 0);
      if (at >= 0 && examples[at] === id) return;
      examples.splice(at < 0 ? examples.length : at, 0, id);
      if (examples.length > limit) examples.pop();
    };
    await this.pool.using(async (connection) => {
      for await (const page of keysetPages(connection, read, (after) => [serverName, after, PAGE_ROWS])) {
        for (const row of page) {
          if (!decodeIp(row.ip).unparsable) continue;
          count++;
          keep(String(row.e));
        }
      }
    });
    return { count, examples };
  }
}
