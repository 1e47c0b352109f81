/**
 * The SQLite connection, in promises: node-sqlite3 (the `sqlite3` package), because it opens
 * `file:` URIs, and only URI parameters (`immutable`, `readonly_shm`) let a reader leave the
 * database's `-wal` and `-shm` alone. Queries run on libuv's thread pool, not on the event loop.
 *
 * `sqlite3` is an optional dependency: it compiles from C sources where no prebuilt binary fits,
 * and an install without a compiler must still succeed for PostgreSQL sources. So it is imported
 * only when a SQLite database is opened, and typed here by the part this file uses (the build
 * must not need it either).
 */
import { UserError } from "../../errors/user-error.ts";
import type { SqliteOpenMode } from "./files.ts";
import { sqliteUri } from "./files.ts";

/** A raw SQLite value as node-sqlite3 returns it (integers as numbers, BLOBs as Buffers). */
export type SqliteValue = string | number | null | Buffer;
export type SqliteRow = Record<string, SqliteValue>;

/** One prepared statement, run as many times as needed and finalized once. */
export interface SqlitePrepared {
  all(params: readonly unknown[]): Promise<SqliteRow[]>;
  finalize(): Promise<void>;
}

type Callback = (error: Error | null) => void;
type RowsCallback = (error: Error | null, rows: SqliteRow[]) => void;

/** The part of node-sqlite3's module that this file uses. */
export interface SqliteDriver {
  readonly OPEN_READONLY: number;
  readonly OPEN_URI: number;
  readonly Database: new (filename: string, mode: number, callback: Callback) => SqliteDatabase;
}

interface SqliteDatabase {
  all(sql: string, params: unknown, callback: RowsCallback): unknown;
  exec(sql: string, callback: Callback): unknown;
  prepare(sql: string, callback: Callback): SqliteStatement;
  close(callback: Callback): void;
}

interface SqliteStatement {
  all(params: unknown, callback: RowsCallback): unknown;
  finalize(callback: Callback): unknown;
}

/** Imports node-sqlite3's module; a parameter of {@link loadSqliteDriver} so that tests can make it fail. */
export type ImportSqliteDriver = () => Promise<{ default: SqliteDriver }>;

// A name in a variable: TypeScript then does not resolve the module, which may not be installed.
const DRIVER_MODULE = "sqlite3";
const importSqlite3: ImportSqliteDriver = () => import(DRIVER_MODULE) as Promise<{ default: SqliteDriver }>;

/** What to do when the driver cannot be loaded (the README's Install section says how, per way of installing). */
export const SQLITE_DRIVER_HINT =
  "install a C compiler and Python, then install syn2mas again (see SQLite in the README's Install section); " +
  "or port the database to PostgreSQL with synapse_port_db";

/**
 * node-sqlite3's module, imported now (Node keeps it once loaded).
 * @throws UserError when it is not installed, or is installed without a compiled part that loads here.
 */
export async function loadSqliteDriver(importDriver: ImportSqliteDriver = importSqlite3): Promise<SqliteDriver> {
  try {
    return (await importDriver()).default;
  } catch (error) {
    // The import of the package itself fails with ERR_MODULE_NOT_FOUND; its native part failing
    // to load (not built, or built for another platform) throws from inside it.
    const state =
      (error as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND"
        ? "is not installed"
        : "is installed but its compiled part cannot be loaded";
    throw new UserError(
      `Synapse's SQLite database needs the optional sqlite3 module, which ${state} (it builds from C sources when no prebuilt binary fits this machine)`,
      SQLITE_DRIVER_HINT,
      { cause: error },
    );
  }
}

/** A read-only connection. Nothing it runs can write: SQLite opened the file read-only and `query_only` is on. */
export class SqliteConnection {
  private closed = false;

  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens `path` read-only in `mode` (see files.ts) with `driver`; rejects with SQLite's error when it cannot. */
  static open(driver: SqliteDriver, path: string, mode: SqliteOpenMode): Promise<SqliteConnection> {
    return new Promise((resolve, reject) => {
      const db = new driver.Database(sqliteUri(path, mode), driver.OPEN_READONLY | driver.OPEN_URI, (error) => {
        if (error) reject(error);
        else resolve(new SqliteConnection(db));
      });
    });
  }

  all(sql: string, params: readonly unknown[] = []): Promise<SqliteRow[]> {
    return new Promise((resolve, reject) => {
      this.db.all(sql, params, (error, rows) => (error ? reject(error) : resolve(rows)));
    });
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (error) => (error ? reject(error) : resolve())));
  }

  prepare(sql: string): Promise<SqlitePrepared> {
    return new Promise((resolve, reject) => {
      const statement = this.db.prepare(sql, (error) => {
        if (error) {
          reject(error);
          return;
        }
        resolve({
          all: (params) => new Promise((done, fail) => statement.all(params, (e, rows) => (e ? fail(e) : done(rows)))),
          finalize: () => new Promise((done) => statement.finalize(() => done())),
        });
      });
    });
  }

  /** Closes the connection (once: later calls do nothing). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve, reject) => this.db.close((error) => (error ? reject(error) : resolve())));
  }
}

/** One column of a paged read: the name it gets in each row, and its SQL expression. */
export type PagedColumn = readonly [name: string, expression: string];

/**
 * A query read page by page with a key (an integer, usually a rowid): `columns` (the key first,
 * named `k`), and `from`, the rest of the query, which must take rows whose key is greater than
 * the last page's and stop at the page size (e.g. `FROM t WHERE rowid > ?1 ORDER BY rowid LIMIT ?2`).
 * `order` orders the rows within a page, by the columns' names.
 */
export interface PagedRead {
  columns: readonly PagedColumn[];
  from: string;
  order: string;
}

/**
 * The SQL of one page of `read`, as one JSON array of row arrays: node-sqlite3 builds a JavaScript
 * object for every row, property by property, which costs three times what SQLite spends on the
 * query; one string per page, parsed by JSON.parse, costs a fraction of that. BLOBs (which JSON
 * cannot hold; Synapse stores text) are read as the UTF-8 text they contain.
 */
export function pageSql(read: PagedRead): string {
  const select = read.columns.map(([name, expression]) => `${expression} AS ${name}`).join(",\n  ");
  const values = read.columns.map(([name]) => `iif(typeof(${name}) = 'blob', CAST(${name} AS TEXT), ${name})`).join(", ");
  return `SELECT json_group_array(json_array(${values}) ORDER BY ${read.order}) AS page FROM (SELECT ${select}\n${read.from})`;
}

/**
 * A function turning a row array into an object keyed by the columns' names, every property
 * assigned in one literal, so all rows share one hidden class.
 */
export function rowMaker<V>(names: readonly string[]): (values: readonly V[]) => Record<string, V> {
  const body = names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(", ");
  return new Function(`return (v) => ({ ${body} });`)() as (values: readonly V[]) => Record<string, V>;
}

/**
 * The pages of `read`, as row objects, until one comes back empty. The next page is asked for as
 * soon as one arrives, so SQLite reads it (on the thread pool) while this one is being used.
 * `bind(after)` gives the parameters for the page after key `after`.
 */
export async function* keysetPages(
  connection: SqliteConnection,
  read: PagedRead,
  bind: (after: number) => unknown[],
): AsyncGenerator<Record<string, string | number | null>[]> {
  const statement = await connection.prepare(pageSql(read));
  const makeRow = rowMaker<string | number | null>(read.columns.map(([name]) => name));
  const parse = (rows: SqliteRow[]): (string | number | null)[][] =>
    JSON.parse(String(rows[0]?.page ?? "[]")) as (string | number | null)[][];
  // Below every rowid: SQLite compares integers with reals exactly.
  let next: Promise<SqliteRow[]> | undefined = statement.all(bind(-Number.MAX_VALUE));
  try {
    while (next !== undefined) {
      const page = parse(await next);
      next =
        page.length === 0 ? undefined : statement.all(bind(Number((page[page.length - 1] as (string | number | null)[])[0])));
      if (page.length > 0) yield page.map(makeRow);
    }
  } finally {
    // Stopped early: let the query in flight finish before the statement goes.
    await next?.catch(() => undefined);
    await statement.finalize();
  }
}
