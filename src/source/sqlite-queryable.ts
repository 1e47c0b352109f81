/**
 * The checks' view of a SQLite Synapse database: the same {@link SnapshotReaders} as PostgreSQL's
 * (the source's connection, and, when the file is read `immutable`, extra connections reading the
 * very same unchanging file, so that queries run in parallel on the thread pool), running the
 * shared SQL (see `toSqliteSql`), plus the few questions whose PostgreSQL answer lives in its
 * catalog or server: which columns exist, which tables exist, who else has the database open, and
 * one pattern match SQLite cannot do in SQL.
 */
import type pg from "pg";
import { decodeIp } from "./decode.ts";
import type { PagedRead, SqliteConnection } from "./sqlite-driver.ts";
import { keysetPages, toSqliteSql } from "./sqlite-driver.ts";
import { sqliteInUse } from "./sqlite-files.ts";
import type { Queryable, SnapshotReaders } from "./snapshot-readers.ts";

/** Rows per page when a check streams rows through JavaScript. */
const PAGE_ROWS = 4096;

/** Byte order of UTF-8, which is PostgreSQL's C collation and SQLite's BINARY one. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

export class SqliteQueryable implements SnapshotReaders {
  /** This process's connections have no pids: {@link otherSessions} leaves this process out itself. */
  readonly pids: number[] = [];
  readonly extra: number;
  private readonly idle: SqliteConnection[];
  private readonly waiting: ((connection: SqliteConnection) => void)[] = [];
  private onMainReleased: (() => void) | undefined;

  constructor(
    /** The source's connection (its owner closes it). */
    private readonly main: SqliteConnection,
    /** More connections in the same snapshot, closed by {@link close}. */
    private readonly extras: readonly SqliteConnection[],
    /** The database file, for {@link otherSessions}. */
    readonly path: string,
  ) {
    this.extra = extras.length;
    this.idle = [main, ...extras];
  }

  private acquire(): Promise<SqliteConnection> {
    const idle = this.idle.pop();
    return idle !== undefined ? Promise.resolve(idle) : new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(connection: SqliteConnection): void {
    if (connection === this.main && this.onMainReleased !== undefined) {
      const detached = this.onMainReleased;
      this.onMainReleased = undefined;
      detached();
      return;
    }
    const next = this.waiting.shift();
    if (next) next(connection);
    else this.idle.push(connection);
  }

  /** Runs `work` on an idle connection of the snapshot. */
  private async using<T>(work: (connection: SqliteConnection) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    try {
      return await work(connection);
    } finally {
      this.release(connection);
    }
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const rows = (await this.using((c) => c.all(toSqliteSql(text), values ?? []))) as unknown as R[];
    return { command: "SELECT", rowCount: rows.length, oid: 0, fields: [], rows };
  }

  /** Takes the source's connection out of the pool once it is idle (see SnapshotReaders). Needs `extra` > 0. */
  detachMain(): Promise<void> {
    if (this.extras.length === 0) return Promise.reject(new Error("detachMain needs extra connections"));
    const index = this.idle.indexOf(this.main);
    if (index >= 0) {
      this.idle.splice(index, 1);
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.onMainReleased = resolve));
  }

  /** Ends the extra connections' read transactions and closes them; the source's connection stays. */
  async close(): Promise<void> {
    await Promise.all(this.extras.map((c) => c.close().catch(() => undefined)));
  }

  /** `table.column` for every column of `tables` that exists (information_schema's answer, from pragma_table_info). */
  async presentColumns(tables: readonly string[]): Promise<Set<string>> {
    const { rows } = await this.query<{ t: string; c: string }>(
      `SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p
        WHERE m.type = 'table' AND m.name IN (${tables.map(() => "?").join(", ")})`,
      [...tables],
    );
    return new Set(rows.map((r) => `${String(r.t)}.${String(r.c)}`));
  }

  async tableExists(table: string): Promise<boolean> {
    const { rows } = await this.query("SELECT 1 AS ok FROM sqlite_master WHERE type = 'table' AND name = $1", [table]);
    return rows.length > 0;
  }

  /** Signs that Synapse has the file open or did not shut down cleanly (this process's own locks aside). */
  async otherSessions(): Promise<string[]> {
    return sqliteInUse(this.path);
  }

  /**
   * The rows of `FROM from WHERE where` (the shared SQL's written devices, `$1` the server name)
   * whose `d.ip` the reader's decodeIp calls unparsable: SQLite has no regular expressions, so the
   * test runs here, over pages of device ids and IPs. Examples are distinct device ids in byte order.
   */
  async countUnparsableIps(from: string, where: string, serverName: string, limit: number): Promise<{ count: number; examples: string[] }> {
    const read: PagedRead = {
      columns: [["k", "d.rowid"], ["e", "d.device_id"], ["ip", "d.ip"]],
      from: toSqliteSql(`FROM ${from} WHERE (${where}) AND d.ip IS NOT NULL AND d.rowid > ?2 ORDER BY d.rowid LIMIT ?3`),
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
    await this.using(async (connection) => {
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

/** Whether the checks' database is a SQLite one (its engine-specific questions then go to it). */
export function isSqlite(db: Queryable): db is SqliteQueryable {
  return db instanceof SqliteQueryable;
}
