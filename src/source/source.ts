/** What the pipeline needs from a Synapse database, whatever stores it. */
import type { Readable } from "node:stream";
import type { UserRowCounts } from "../model/user-buckets.ts";
import type { SynapseQueries } from "./snapshot-readers.ts";
import type {
  SynapseDevice,
  SynapseExternalId,
  SynapseLooseToken,
  SynapseThreepid,
  SynapseUnpairedRefreshToken,
  SynapseUser,
} from "../model/synapse.ts";

/** The Synapse tables whose size gives a phase's total for progress. */
export type CountedTable = "users" | "user_threepids" | "user_external_ids" | "devices";

/**
 * Only the rows of these Synapse users (full ids), for a staged run re-reading the users that
 * changed; undefined: every row.
 */
export type UserSubset = readonly string[] | undefined;

/** Where a snapshot of Synapse's database stands, for a later run to find what was written since. */
export interface ChangeMark {
  /** The snapshot's oldest running transaction (64-bit id, decimal). */
  xmin: string;
  /** What identifies the database and its tables' files: another origin makes the mark meaningless. */
  origin: string;
  /** How many buckets the stage's users are counted in (chosen by the first mark, then kept). */
  buckets: number;
}

/**
 * How a staged run finds the users whose rows changed since the stage was brought up to date
 * (source/postgres/changes.ts). Tables are named by their place in `tables`.
 */
export interface UserChanges {
  /** The tables whose rows are counted per user, in order. */
  readonly tables: readonly string[];
  /** The same queries spread over the snapshot's connections (`queries`), side by side where they can. */
  over(queries: SynapseQueries): UserChanges;
  /** This snapshot's mark, saved with the stage. */
  mark(): Promise<ChangeMark>;
  /** Whether rows written since `previous` can be told apart in this snapshot; the other queries need it. */
  markComparable(previous: ChangeMark): Promise<boolean>;
  /** The users with a row written (inserted or updated) since the mark, and per table the rows older than it. */
  writtenSince(): Promise<{ users: string[]; kept: number[] }>;
  /** Per user of these, their bucket and per table (of `tables`, default all) their rows older than the mark. */
  keptOf(users: readonly string[], tables?: readonly number[]): Promise<Map<string, { bucket: number; kept: number[] }>>;
  /** How many buckets users are spread over (by a hash of their id, in `keptOf` and `rowCounts`); known once a mark is taken or compared. */
  readonly buckets: number;
  /** Per table of `tables`, per bucket of users (the index), the rows older than the mark. */
  keptByBucket(tables: readonly number[]): Promise<Map<number, Int32Array>>;
  /** COPY text, one line per Synapse user with any row (of `only`): `user_id TAB bucket TAB {rows per table}`. */
  rowCounts(): Readable;
  /** The same for `users` alone (those with any row), on any of the snapshot's connections. */
  rowCountsOf(users: readonly string[]): Promise<UserRowCounts[]>;
  /** The users with a refresh token whose session ends in [from, to) (ms): their mapping depends on when it runs. */
  sessionsEndingBetween(from: number, to: number): Promise<string[]>;
}

/**
 * A consistent, read-only view of one Synapse database. Every read sees the same snapshot.
 * Reads stream in batches (arrays, one promise each): memory does not grow with the number of rows.
 */
export interface SynapseSource {
  readUsers(only?: UserSubset): AsyncIterable<SynapseUser[]>;
  readThreepids(only?: UserSubset): AsyncIterable<SynapseThreepid[]>;
  readExternalIds(only?: UserSubset): AsyncIterable<SynapseExternalId[]>;
  /** Devices with all their access tokens (and paired refresh tokens). */
  readDevices(only?: UserSubset): AsyncIterable<SynapseDevice[]>;
  /** Access tokens with no device, or naming a device that does not exist. */
  readLooseTokens(only?: UserSubset): AsyncIterable<SynapseLooseToken[]>;
  readUnpairedRefreshTokens(only?: UserSubset): AsyncIterable<SynapseUnpairedRefreshToken[]>;
  /** Finds changed users in the same snapshot (PostgreSQL only: a staged run needs it). */
  readonly changes?: UserChanges;
  /** The number of rows of one of the tables read (for progress). */
  countRows(table: CountedTable): Promise<number>;
  close(): Promise<void>;
}
