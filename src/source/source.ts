/** What the pipeline needs from a Synapse database, whatever stores it. */
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
 * A consistent, read-only view of one Synapse database. Every read sees the same snapshot.
 * Reads stream in batches (arrays, one promise each): memory does not grow with the number of rows.
 */
export interface SynapseSource {
  readUsers(): AsyncIterable<SynapseUser[]>;
  readThreepids(): AsyncIterable<SynapseThreepid[]>;
  readExternalIds(): AsyncIterable<SynapseExternalId[]>;
  /** Devices with all their access tokens (and paired refresh tokens). */
  readDevices(): AsyncIterable<SynapseDevice[]>;
  /** Access tokens with no device, or naming a device that does not exist. */
  readLooseTokens(): AsyncIterable<SynapseLooseToken[]>;
  readUnpairedRefreshTokens(): AsyncIterable<SynapseUnpairedRefreshToken[]>;
  /** The number of rows of one of the tables read (for progress). */
  countRows(table: CountedTable): Promise<number>;
  close(): Promise<void>;
}
