/**
 * Batches of raw rows (the same column names from every engine's reader SQL) to decoded Synapse
 * rows. Shared by the PostgreSQL and SQLite sources: only how batches are fetched differs.
 */
import type {
  SynapseDevice,
  SynapseExternalId,
  SynapseLooseToken,
  SynapseThreepid,
  SynapseUnpairedRefreshToken,
  SynapseUser,
} from "../model/synapse.ts";
import { decodeBool, decodeDevice, decodeInt, decodeOwner, decodeText, decodeToken, type RawValue } from "./decode.ts";
import type { CountedTable, SynapseSource } from "./source.ts";

/** One raw row, keyed by the reader SQL's column names. */
export type Row = Record<string, RawValue>;
/** Raw rows in batches (one promise per batch, not per row). */
export type RowBatches = AsyncIterable<Row[]>;

export async function* usersFrom(batches: RowBatches): AsyncGenerator<SynapseUser> {
  for await (const batch of batches) {
    for (const row of batch) {
      const owner = decodeOwner(row);
      if (owner === null) continue; // users.name is never NULL in a real Synapse
      yield { ...owner, passwordHash: decodeText(row.password_hash), locked: decodeBool(row.locked) };
    }
  }
}

export async function* threepidsFrom(batches: RowBatches): AsyncGenerator<SynapseThreepid> {
  for await (const batch of batches) {
    for (const row of batch) {
      yield {
        userId: String(row.user_id),
        owner: decodeOwner(row),
        medium: String(row.medium),
        address: String(row.address),
        addedAt: decodeInt(row.added_at) ?? 0,
      };
    }
  }
}

export async function* externalIdsFrom(batches: RowBatches): AsyncGenerator<SynapseExternalId> {
  for await (const batch of batches) {
    for (const row of batch) {
      yield {
        userId: String(row.user_id),
        owner: decodeOwner(row),
        authProvider: String(row.auth_provider),
        externalId: String(row.external_id),
      };
    }
  }
}

/**
 * Devices with their tokens, from rows of one (device, token) each, ordered so that a device's
 * rows are consecutive. `deviceKey` tells which device a row belongs to.
 */
export async function* devicesFrom(batches: RowBatches, deviceKey: (row: Row) => unknown): AsyncGenerator<SynapseDevice> {
  let current: SynapseDevice | undefined;
  let currentKey: unknown;
  for await (const batch of batches) {
    for (const row of batch) {
      const key = deviceKey(row);
      if (current === undefined || key !== currentKey) {
        if (current !== undefined) yield current;
        current = decodeDevice(row);
        currentKey = key;
      }
      if (row.a_id !== null && row.a_id !== undefined) current.tokens.push(decodeToken(row));
    }
  }
  if (current !== undefined) yield current;
}

export async function* looseTokensFrom(batches: RowBatches): AsyncGenerator<SynapseLooseToken> {
  for await (const batch of batches) {
    for (const row of batch) yield { owner: decodeOwner(row), token: decodeToken(row) };
  }
}

export async function* unpairedRefreshTokensFrom(batches: RowBatches): AsyncGenerator<SynapseUnpairedRefreshToken> {
  for await (const batch of batches) {
    for (const row of batch) yield { id: Number(row.id), userId: String(row.user_id), owner: decodeOwner(row) };
  }
}

/** The reads every source runs, under the names both engines' SQL maps use. */
export type ReadKind = "users" | "threepids" | "externalIds" | "devices" | "looseTokens" | "unpairedRefreshTokens";

/**
 * A Synapse source whose engine only says how to fetch each read's row batches and how to tell a
 * device's rows apart; decoding and device grouping are the same for every engine.
 */
export abstract class BatchedSynapseSource implements SynapseSource {
  /** The raw rows of one read, in batches. */
  protected abstract batches(kind: ReadKind): RowBatches;
  /** Which device a row of the `devices` read belongs to (its rows are consecutive). */
  protected abstract deviceKey(row: Row): unknown;
  abstract countRows(table: CountedTable): Promise<number>;
  abstract close(): Promise<void>;

  readUsers(): AsyncIterable<SynapseUser> {
    return usersFrom(this.batches("users"));
  }

  readThreepids(): AsyncIterable<SynapseThreepid> {
    return threepidsFrom(this.batches("threepids"));
  }

  readExternalIds(): AsyncIterable<SynapseExternalId> {
    return externalIdsFrom(this.batches("externalIds"));
  }

  readDevices(): AsyncIterable<SynapseDevice> {
    return devicesFrom(this.batches("devices"), (row) => this.deviceKey(row));
  }

  readLooseTokens(): AsyncIterable<SynapseLooseToken> {
    return looseTokensFrom(this.batches("looseTokens"));
  }

  readUnpairedRefreshTokens(): AsyncIterable<SynapseUnpairedRefreshToken> {
    return unpairedRefreshTokensFrom(this.batches("unpairedRefreshTokens"));
  }
}
