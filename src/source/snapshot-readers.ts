/**
 * The checks' view of a Synapse database, whatever stores it: queries in one read-only snapshot,
 * possibly over several connections. Each engine (source/postgres/, source/sqlite/) implements it
 * and says how its SQL differs ({@link SqlDialect}); the shared queries (findings-sql.ts,
 * synapse-stats.ts) are written once over it.
 */
import type { Engine } from "./read-columns.ts";

export type { Engine };

/** How one engine spells what the shared SQL needs. */
export interface SqlDialect {
  readonly engine: Engine;
  /** The `n`-th bind parameter (from 1). */
  param(n: number): string;
  /** The 1-based character position of `part` in `text`, 0 when absent. */
  strpos(text: string, part: string): string;
  /**
   * A condition: the text `ip` holds a device IP that source/decode.ts decodeIp calls unparsable;
   * undefined when the engine cannot say it in SQL (then its {@link SynapseQueries.countUnparsableIps}
   * judges the rows with decodeIp itself).
   */
  readonly unparsableIp: ((ip: string) => string) | undefined;
}

/** A number of rows and a few example ids. */
export interface CountSample {
  count: number;
  examples: string[];
}

/** A client session of a database, as {@link SynapseQueries.otherSessions} lists it. */
export interface OtherSession {
  /** Its application_name ("" when unset, and for SQLite). */
  applicationName: string;
  /** E.g. `synapse-main (synapse, pid 42)`. */
  who: string;
}

/** Queries in the snapshot, and the questions whose answer lives in an engine's catalog or server. */
export interface SynapseQueries {
  readonly dialect: SqlDialect;
  /** The rows of one SELECT in the dialect's SQL, on an idle connection (numbers may come as strings). */
  rows<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** `table.column` for every column of `tables` that exists. */
  presentColumns(tables: readonly string[]): Promise<Set<string>>;
  tableExists(table: string): Promise<boolean>;
  /** The column lists of `table`'s unique indexes on plain columns (no expressions, no predicates). */
  uniqueIndexes(table: string): Promise<string[][]>;
  /**
   * Other client sessions of the same database (Synapse itself, workers, admin tools, other
   * syn2mas runs), not ours (`ownPids`). For SQLite: other processes with the file open, and changes left in its `-wal`.
   */
  otherSessions(ownPids: readonly number[]): Promise<OtherSession[]>;
  /**
   * The rows of `FROM from WHERE where` (`$1`, in the dialect's spelling, the server name) whose
   * `d.ip` decodeIp calls unparsable, with up to `limit` distinct `d.device_id`s in byte order.
   */
  countUnparsableIps(from: string, where: string, serverName: string, limit: number): Promise<CountSample>;
}

/** {@link SynapseQueries} over several connections in the same snapshot; each query goes to an idle one. */
export interface SnapshotReaders extends SynapseQueries {
  /** Backend pids of every connection, so that checks can tell them from other sessions (none for SQLite). */
  readonly pids: number[];
  /** How many connections there are besides the main one. */
  readonly extra: number;
  /**
   * Takes the main connection out of the pool (once it is idle), so that its owner can stream from
   * it while queries still queued here run on the extra connections only. Needs `extra` > 0.
   */
  detachMain(): Promise<void>;
  /** Ends the extra connections' transactions and closes them (the main connection stays open). */
  close(): Promise<void>;
}
