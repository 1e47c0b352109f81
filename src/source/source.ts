/** What the pipeline needs from a Synapse database, whatever stores it. */
import type { Readable } from "node:stream";
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

/** How a staged run finds the users whose rows changed since the stage was brought up to date. */
export interface UserChanges {
  /** COPY text, one line per Synapse user with any row: `user_id TAB fingerprint`. */
  fingerprints(): Readable;
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
