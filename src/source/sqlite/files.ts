/**
 * What is on disk around a Synapse SQLite database, looked at without opening it: the header's
 * journal mode, the `-wal`, `-shm` and `-journal` files beside it, and which other processes hold
 * a lock on any of them. From that, how to open it so that SQLite writes nothing anywhere.
 *
 * Why this matters: a read-only SQLite connection still opens the `-shm` file read-write and
 * creates `-wal` and `-shm` when the directory is writable (always, for root or the file's owner).
 * Only two URI parameters prevent that: `immutable=1` (no locks, no `-wal`/`-shm`, the WAL is
 * ignored) and `readonly_shm=1` (the existing `-shm` is opened read-only; the WAL is read, through
 * it or, when no other connection has it open, through private memory).
 */
import { closeSync, openSync, readFileSync, readSync, statSync, type BigIntStats } from "node:fs";

/** How the database is opened (see {@link chooseOpenMode}). */
export type SqliteOpenMode =
  /** `immutable=1`: every committed row is in the main file; nothing else is read, locked or created. */
  | "immutable"
  /** `mode=ro&readonly_shm=1`: a WAL database with changes in its `-wal`; read through its `-shm`, never writing. */
  | "wal-read-only"
  /** `mode=ro`: a rollback-journal database; SQLite's shared lock keeps writers out while it is read. */
  | "read-only";

/** The state of the files, as {@link inspectSqliteFiles} found it. */
export interface SqliteFiles {
  /** Absolute path of the database file. */
  path: string;
  /** The header says WAL mode (file format versions 2). */
  walMode: boolean;
  /** Size of `-wal` in bytes, or null when it does not exist. */
  walBytes: number | null;
  shmExists: boolean;
  /** Size of the rollback `-journal`, or null when it does not exist. */
  journalBytes: number | null;
  /** The database file's identity and last change, to notice a write while it is read. */
  stamp: string;
}

/** Why the database cannot be read as it is; `hint` says what to do. */
export class SqliteFileProblem extends Error {
  constructor(
    message: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SqliteFileProblem";
  }
}

const HEADER = "SQLite format 3\0";

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** Size, inode and modification time (nanoseconds) of a file, as one comparable string. */
export function fileStamp(path: string): string {
  const s: BigIntStats = statSync(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
}

/**
 * Looks at the database file and its companions without changing anything (stat and a read of the
 * first 100 bytes).
 * @throws SqliteFileProblem when the file is missing, unreadable or not an SQLite database.
 */
export function inspectSqliteFiles(path: string): SqliteFiles {
  const header = Buffer.alloc(100);
  let read: number;
  try {
    // Looked at before it is opened: opening a FIFO would wait for a writer.
    if (!statSync(path).isFile())
      throw new SqliteFileProblem(`${path} is not a file`, "give the path of Synapse's homeserver.db");
    const fd = openSync(path, "r");
    try {
      read = readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (error instanceof SqliteFileProblem) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (error as Error).message;
    throw new SqliteFileProblem(
      `cannot read ${path}: ${why}`,
      "give the path of Synapse's homeserver.db, readable by this user",
      {
        cause: error,
      },
    );
  }
  if (read < 100 || header.toString("latin1", 0, 16) !== HEADER) {
    throw new SqliteFileProblem(`${path} is not an SQLite database`, "give the path of Synapse's homeserver.db");
  }
  return {
    path,
    walMode: header[18] === 2 && header[19] === 2,
    walBytes: sizeOf(`${path}-wal`),
    shmExists: sizeOf(`${path}-shm`) !== null,
    journalBytes: sizeOf(`${path}-journal`),
    stamp: fileStamp(path),
  };
}

/**
 * The way to open the database that reads every committed row and writes nothing:
 * - WAL mode, `-wal` missing or empty: `immutable`. The main file holds every committed row; this
 *   holds even if Synapse is running (its next commits go to the `-wal`, after this snapshot), and
 *   should a checkpoint rewrite the main file during the read, the source notices (its stamp changed)
 *   and fails the run;
 * - WAL mode, changes in `-wal` and its `-shm` present: `wal-read-only` (SQLite reads the changes
 *   through the `-shm` without writing it; a running Synapse's checkpoints respect this snapshot);
 * - WAL mode, changes in `-wal` without `-shm`: unreadable without writing (SQLite would have to
 *   create the `-shm`); Synapse must be started and stopped once;
 * - rollback-journal mode: `read-only` (SQLite's shared lock holds writers off while it reads, and
 *   it refuses, writing nothing, when a hot journal needs a rollback).
 * Between this look and the open, Synapse could finish shutting down and remove a non-empty
 * `-wal`; SQLite would then create an empty one. Synapse must be stopped before a real run anyway.
 */
export function chooseOpenMode(files: SqliteFiles): SqliteOpenMode {
  if (!files.walMode) return "read-only";
  if (files.walBytes === null || files.walBytes === 0) return "immutable";
  if (files.shmExists) return "wal-read-only";
  throw new SqliteFileProblem(
    `${files.path}-wal holds ${files.walBytes} bytes of changes not yet written into ${files.path}, and there is no ` +
      `${files.path}-shm: SQLite cannot read them without creating files beside the database`,
    "start Synapse once and stop it cleanly (it writes the changes back and removes the -wal file), then run again",
  );
}

/** The `file:` URI that opens `path` in `mode` (SQLite decodes %XX in the path; `?` and `#` must be escaped). */
export function sqliteUri(path: string, mode: SqliteOpenMode): string {
  const escaped = path.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  const query = { immutable: "immutable=1", "wal-read-only": "mode=ro&readonly_shm=1", "read-only": "mode=ro" }[mode];
  return `file:${escaped}?${query}`;
}

/** A POSIX lock line of /proc/locks: who holds it on which file. */
interface LockHolder {
  pid: number;
  device: string;
  inode: string;
}

/** `major:minor` of a `stat` device number, in /proc/locks's hexadecimal form (Linux's encoding). */
function deviceId(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}`;
}

/** Parses /proc/locks (e.g. `1: POSIX  ADVISORY  READ 5525 fe:00:2212065 128 128`; waiters have `->`). */
export function parseProcLocks(text: string): LockHolder[] {
  const holders: LockHolder[] = [];
  for (const line of text.split("\n")) {
    const fields = line
      .trim()
      .split(/\s+/)
      .filter((f) => f !== "->");
    const [pid, file] = [fields[4], fields[5]];
    const match = file === undefined ? null : /^([0-9a-f]+):([0-9a-f]+):(\d+)$/i.exec(file);
    if (pid === undefined || match === null) continue;
    const [, major, minor, inode] = match as unknown as [string, string, string, string];
    holders.push({ pid: Number(pid), device: `${major.padStart(2, "0")}:${minor.padStart(2, "0")}`.toLowerCase(), inode });
  }
  return holders;
}

/** The command name of a process, when this process may see it. */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() || "?";
  } catch {
    return "?";
  }
}

/**
 * Other processes holding a lock on the database, its `-wal` or its `-shm` (every SQLite connection
 * holds one while it is open), as `pid N (command)`. Read from Linux's /proc/locks; elsewhere, or
 * when it cannot be read, nothing is known and the list is empty. Locks of this process are not others'.
 */
export function otherLockHolders(path: string, locksText?: string): string[] {
  let text = locksText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/locks", "utf8");
    } catch {
      return [];
    }
  }
  const files = new Set<string>();
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const s = statSync(file, { bigint: true });
      files.add(`${deviceId(s.dev)}:${s.ino}`);
    } catch {
      // Not there: nobody can hold a lock on it.
    }
  }
  const pids = new Set<number>();
  for (const holder of parseProcLocks(text)) {
    if (holder.pid !== process.pid && files.has(`${holder.device}:${holder.inode}`)) pids.add(holder.pid);
  }
  return [...pids]
    .sort((a, b) => a - b)
    .map((pid) => (pid > 0 ? `pid ${pid} (${commandOf(pid)})` : "a process of another PID namespace"));
}

/**
 * Signs that Synapse is running on (or last crashed with) this database: other processes with the
 * file open, and changes still in the `-wal` (a clean shutdown writes them back and removes it).
 */
export function sqliteInUse(path: string): string[] {
  const signs = otherLockHolders(path);
  const walBytes = sizeOf(`${path}-wal`);
  if (walBytes !== null && walBytes > 0) signs.push(`${walBytes} bytes not yet written back in ${path}-wal`);
  return signs;
}

/**
 * The database path named by a `sqlite:` URI (as `--synapse-database-uri` takes it), or undefined
 * for another scheme. Like `file:` URIs: `sqlite:///srv/synapse/homeserver.db` (an empty or
 * `localhost` authority) is absolute; `sqlite:homeserver.db` is relative to the current
 * directory; `%XX` escapes are decoded.
 * @throws SqliteFileProblem for a remote host, parameters, or no path.
 */
export function sqlitePathFromUri(uri: string): string | undefined {
  const match = /^sqlite:(.*)$/is.exec(uri);
  if (match === null) return undefined;
  let rest = match[1] as string;
  const hint = "give a URI such as sqlite:///var/lib/synapse/homeserver.db";
  if (/[?#]/.test(rest)) throw new SqliteFileProblem("the sqlite: URI takes no parameters", hint);
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    const host = rest.slice(2, slash < 0 ? undefined : slash);
    if (host !== "" && host.toLowerCase() !== "localhost") {
      throw new SqliteFileProblem(`the sqlite: URI names the host "${host}"; SQLite files are read locally`, hint);
    }
    rest = slash < 0 ? "" : rest.slice(slash);
  }
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch (error) {
    throw new SqliteFileProblem("the sqlite: URI has a malformed %-escape", hint, { cause: error });
  }
  if (path === "" || path === "/") throw new SqliteFileProblem("the sqlite: URI names no file", hint);
  return path;
}
