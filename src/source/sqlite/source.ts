/**
 * Reads a Synapse SQLite database: opened read-only without writing or creating any file (see
 * files.ts), every read inside one read transaction (one snapshot), rows streamed in
 * keyset pages (two pages in memory at most: the one being mapped and the next one, already
 * loading). It yields exactly what the PostgreSQL reader yields for the same rows: the same
 * columns under the same names, decoded by the same functions (SQLite's integers for booleans and
 * flags, and its NULLs in old rows, decode as PostgreSQL's `t`/`f` and `0`/`1` do).
 */
import { RowObjectBatch, type FieldReader } from "../field-reader.ts";
import { columnNames, columnSql, READS, type ReadKind } from "../read-columns.ts";
import { BatchedSynapseSource } from "../read-rows.ts";
import { keysetPages, loadSqliteDriver, SqliteConnection, type PagedColumn, type PagedRead } from "./driver.ts";
import {
  chooseOpenMode,
  fileStamp,
  inspectSqliteFiles,
  SqliteFileProblem,
  type SqliteFiles,
  type SqliteOpenMode,
} from "./files.ts";
import { SqliteSnapshot } from "./snapshot.ts";
import type { CountedTable, SynapseSource, UserSubset } from "../source.ts";

/**
 * Keys (rowids) per page. Each page's rows live until the next page is read, long enough to be
 * promoted in node's heap: 512 kept the peak RSS at 100k users at 167-191 MB (4096: 308 MB), and
 * was no slower.
 */
const PAGE_ROWS = 512;
/**
 * SQLite page cache per connection (KiB): the reads are sequential scans and index probes, which
 * the operating system's cache serves as well; larger caches only raised the peak RSS.
 */
const MAIN_CACHE_KIB = 8192;
const EXTRA_CACHE_KIB = 4096;

/**
 * Each read's key (`k`, a rowid to page by), FROM and the rest, after its columns (read-columns.ts
 * READS, the same tables under the same aliases): `?1` is the last key of the previous page, `?2`
 * the page size; `order` orders a page's rows.
 */
const PAGING: Record<ReadKind, { key: string; from: string; order: string }> = {
  users: { key: "u.rowid", from: "FROM users u WHERE u.rowid > ?1 ORDER BY u.rowid LIMIT ?2", order: "k" },
  threepids: {
    key: "t.rowid",
    from: `FROM user_threepids t LEFT JOIN users u ON u.name = t.user_id
      WHERE t.rowid > ?1 ORDER BY t.rowid LIMIT ?2`,
    order: "k",
  },
  externalIds: {
    key: "e.rowid",
    from: `FROM user_external_ids e LEFT JOIN users u ON u.name = e.user_id
      WHERE e.rowid > ?1 ORDER BY e.rowid LIMIT ?2`,
    order: "k",
  },
  // A page of devices with all their tokens: one row per (device, token), a device's rows together.
  devices: {
    key: "d.k",
    from: `FROM (SELECT rowid AS k, * FROM devices WHERE rowid > ?1 ORDER BY rowid LIMIT ?2) d
      LEFT JOIN users u ON u.name = d.user_id
      LEFT JOIN access_tokens a ON a.user_id = d.user_id AND a.device_id = d.device_id
      LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id`,
    order: "k, a_id",
  },
  // A NULL device_id matches no device, so this also keeps deviceless tokens.
  looseTokens: {
    key: "a.rowid",
    from: `FROM access_tokens a
      LEFT JOIN users u ON u.name = a.user_id
      LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id
      WHERE a.rowid > ?1
        AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = a.user_id AND d.device_id = a.device_id)
      ORDER BY a.rowid LIMIT ?2`,
    order: "k",
  },
  unpairedRefreshTokens: {
    key: "r.rowid",
    from: `FROM refresh_tokens r LEFT JOIN users u ON u.name = r.user_id
      WHERE r.rowid > ?1 AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.refresh_token_id = r.id)
      ORDER BY r.rowid LIMIT ?2`,
    order: "k",
  },
};

/** A read on SQLite, page by page: its key `k`, then its columns (read-columns.ts). */
export function sqliteRead(kind: ReadKind): PagedRead {
  const { key, from, order } = PAGING[kind];
  return { columns: [["k", key], ...READS[kind].map((c): PagedColumn => [c.name, columnSql(c, "sqlite")])], from, order };
}

/** The paged reads, made once. */
const SQLITE_READS = Object.fromEntries(Object.keys(PAGING).map((kind) => [kind, sqliteRead(kind as ReadKind)])) as Record<
  ReadKind,
  PagedRead
>;

/** The column of each read naming the Synapse user a row belongs to (read-columns.ts names). */
const USER_COLUMN: Record<ReadKind, string> = {
  users: "o_name",
  threepids: "user_id",
  externalIds: "user_id",
  devices: "user_id",
  looseTokens: "a_user_id",
  unpairedRefreshTokens: "user_id",
};

/** The column names of every read, once (how the pages' rows are read). */
const NAMES = Object.fromEntries(Object.keys(PAGING).map((kind) => [kind, columnNames(kind as ReadKind)])) as Record<
  ReadKind,
  string[]
>;

/** A Synapse source over an open SQLite snapshot. {@link openSqliteSynapse} makes one. */
class SqliteSynapseSource extends BatchedSynapseSource {
  constructor(
    private readonly connection: SqliteConnection,
    private readonly onClose: () => Promise<void>,
  ) {
    super();
  }

  /**
   * The pages of one read, read by its columns' names; with `only`, the rows of those users alone,
   * kept while paging (every row is still read: SQLite servers are small).
   */
  protected async *batches(kind: ReadKind, only?: UserSubset): AsyncGenerator<FieldReader> {
    const read: PagedRead = SQLITE_READS[kind];
    const users = only === undefined ? undefined : new Set(only);
    const column = USER_COLUMN[kind];
    for await (const page of keysetPages(this.connection, read, (after) => [after, PAGE_ROWS])) {
      const rows = users === undefined ? page : page.filter((row) => users.has(String(row[column])));
      if (rows.length > 0) yield new RowObjectBatch(rows, NAMES[kind]);
    }
  }

  async countRows(table: CountedTable): Promise<number> {
    const rows = await this.connection.all(`SELECT count(*) AS n FROM ${table}`);
    return Number(rows[0]?.n ?? 0);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** An open SQLite Synapse database: its source and its checks' queryable, in one snapshot. */
export interface SqliteSynapse {
  files: SqliteFiles;
  mode: SqliteOpenMode;
  source: SynapseSource;
  readers: SqliteSnapshot;
  /**
   * Ends the snapshot, if the source's `close` did not, and closes the file. Only the source's
   * `close` reports a change of the file during the read: call it before trusting what was read.
   */
  close(): Promise<void>;
}

/** SQLite's answer when opening or reading fails, as a problem the operator can act on. */
function explain(path: string, error: unknown): SqliteFileProblem {
  const e = error as { code?: string; message?: string };
  const message = (e.message ?? String(error)).replace(/^SQLITE_\w+: /, "");
  if (e.code === "SQLITE_READONLY" || /rollback|recovery|cantinit/i.test(message)) {
    return new SqliteFileProblem(
      `cannot read ${path} without writing to it (${message}): it was left unfinished by a crash`,
      "start Synapse once and stop it cleanly, then run again",
      { cause: error },
    );
  }
  if (e.code === "SQLITE_NOTADB" || e.code === "SQLITE_CORRUPT") {
    return new SqliteFileProblem(
      `${path} is not a readable SQLite database (${message})`,
      "give the path of Synapse's homeserver.db",
      {
        cause: error,
      },
    );
  }
  return new SqliteFileProblem(`cannot read ${path}: ${message}`, "check that the file is Synapse's homeserver.db and readable", {
    cause: error,
  });
}

/** Starts the read transaction on a new connection and reads once, so that its snapshot is fixed now. */
async function startSnapshot(connection: SqliteConnection, cacheKib: number): Promise<void> {
  await connection.exec(`PRAGMA query_only = ON; PRAGMA cache_size = -${cacheKib}; BEGIN`);
  await connection.all("SELECT count(*) AS n FROM sqlite_master");
}

/**
 * Opens Synapse's SQLite database read-only in the mode its files call for, starts the read
 * transaction that every read (source and checks) shares, and reads once so that the snapshot is
 * fixed now. Nothing can write through these connections: the file is opened read-only and
 * `query_only` is on. Opened `immutable` (no locks, the file cannot change under a consistent
 * read), `extraConnections` more connections serve the checks in parallel, and ending the
 * snapshot checks that the file did not change meanwhile, and fails the run if it did. In the
 * other modes one connection does everything: only it is sure to see the source's snapshot.
 * @throws SqliteFileProblem when the file cannot be read without writing, or is not a database.
 * @throws UserError when the SQLite driver is not installed (see driver.ts).
 */
export async function openSqliteSynapse(path: string, options: { extraConnections?: number } = {}): Promise<SqliteSynapse> {
  const driver = await loadSqliteDriver();
  const files = inspectSqliteFiles(path);
  const mode = chooseOpenMode(files);
  const opened: SqliteConnection[] = [];
  try {
    opened.push(await SqliteConnection.open(driver, path, mode));
    await startSnapshot(opened[0] as SqliteConnection, MAIN_CACHE_KIB);
    const extra = mode === "immutable" ? (options.extraConnections ?? 0) : 0;
    for (let i = 0; i < extra; i++) {
      const connection = await SqliteConnection.open(driver, path, mode);
      opened.push(connection);
      await startSnapshot(connection, EXTRA_CACHE_KIB);
    }
  } catch (error) {
    await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
    throw explain(path, error);
  }
  const [connection, ...extras] = opened as [SqliteConnection, ...SqliteConnection[]];
  let inTransaction = true;
  /** Ends the read transaction once; with `verify`, fails when an unlocked (immutable) file changed meanwhile. */
  const endSnapshot = async (verify: boolean): Promise<void> => {
    if (!inTransaction) return;
    inTransaction = false;
    await connection.exec("ROLLBACK").catch(() => undefined);
    if (verify && mode === "immutable" && fileStamp(path) !== files.stamp) {
      throw new SqliteFileProblem(
        `${path} changed while it was being read, so what was read may not be one consistent state`,
        "stop Synapse (and anything else using the database) for the whole run, then run again",
      );
    }
  };
  return {
    files,
    mode,
    source: new SqliteSynapseSource(connection, () => endSnapshot(true)),
    readers: new SqliteSnapshot(connection, extras, path),
    async close(): Promise<void> {
      await endSnapshot(false);
      await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
    },
  };
}
