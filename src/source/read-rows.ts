/**
 * Batches of raw rows (the same columns, in the same order, from every engine's reader SQL) to
 * decoded Synapse rows. Shared by the PostgreSQL and SQLite sources: only how batches are fetched
 * differs. Rows are read field by field (see field-reader.ts), in the order of their read's columns
 * (read-columns.ts READS; read-rows.test.ts checks every decoder against it).
 */
import type {
  SynapseAccessToken,
  SynapseDevice,
  SynapseExternalId,
  SynapseLooseToken,
  SynapseOwner,
  SynapseThreepid,
  SynapseUnpairedRefreshToken,
  SynapseUser,
} from "../model/synapse.ts";
import { decodeIp } from "./decode.ts";
import type { FieldReader } from "./field-reader.ts";
import { DEVICE_COLUMNS, OWNER_COLUMNS, type ReadKind } from "./read-columns.ts";
import type { CountedTable, SynapseSource, UserSubset } from "./source.ts";

/** Batches of rows to read field by field (one promise per batch, not per row). */
export type FieldBatches = AsyncIterable<FieldReader>;

/** A further token row of the same device: its device's columns after `device_id`, and its owner's, passed over. */
const DEVICE_AND_OWNER_REST = DEVICE_COLUMNS.length - 2 + OWNER_COLUMNS.length;

/**
 * The owner columns: null when no `users` row matched. The join is on `u.name = user_id`, so
 * the owner's name is `userId` itself (not read again).
 */
function readOwner(f: FieldReader, userId: string): SynapseOwner | null {
  return ownerAfterName(f, f.isNull() ? null : userId);
}

/** The owner columns after `o_name` (`name`): null, their fields passed over, when no row matched. */
function ownerAfterName(f: FieldReader, name: string | null): SynapseOwner | null {
  if (name !== null) return ownerFields(f, name);
  f.skip(OWNER_COLUMNS.length - 1);
  return null;
}

/** The owner columns after `o_name`, of a matched row. */
function ownerFields(f: FieldReader, name: string): SynapseOwner {
  const creationTs = f.int();
  const admin = f.flag();
  const isGuest = f.flag();
  const deactivated = f.flag();
  const appserviceId = f.text() || null;
  return { name, creationTs, admin, isGuest, deactivated, appserviceId };
}

/** The token columns after `a_id` (which the caller read to know there is a token). */
function tokenFields(f: FieldReader, id: number, sameUser?: string, sameDevice?: string): SynapseAccessToken {
  const userId = String(f.textOr(sameUser));
  const deviceId = f.textOr(sameDevice);
  const token = String(f.text());
  const validUntilMs = f.int();
  const puppetsUserId = f.text();
  const lastValidated = f.int();
  const refreshId = f.int();
  let refresh: SynapseAccessToken["refresh"] = null;
  if (refreshId !== null) {
    const refreshToken = String(f.text());
    const supersededAndUsed = f.bool();
    refresh = { id: refreshId, token: refreshToken, supersededAndUsed, expiryTs: f.int(), ultimateSessionExpiryTs: f.int() };
  }
  return { id, userId, deviceId, token, validUntilMs, puppetsUserId, lastValidated, refresh };
}

/** Decodes every row of every batch with `decode`, handing on one array per batch. */
async function* eachRow<T>(batches: FieldBatches, decode: (f: FieldReader) => T | undefined): AsyncGenerator<T[]> {
  for await (const f of batches) {
    const out: T[] = [];
    while (f.nextRow()) {
      const value = decode(f);
      if (value !== undefined) out.push(value);
    }
    if (out.length > 0) yield out;
  }
}

export function usersFrom(batches: FieldBatches): AsyncGenerator<SynapseUser[]> {
  return eachRow(batches, (f) => {
    const name = f.text();
    if (name === null) return undefined; // users.name is never NULL in a real Synapse
    const owner = ownerFields(f, name);
    const passwordHash = f.text();
    const locked = f.bool();
    return { ...owner, passwordHash, locked, hasExternalId: f.bool() };
  });
}

export function threepidsFrom(batches: FieldBatches): AsyncGenerator<SynapseThreepid[]> {
  return eachRow(batches, (f) => {
    const userId = String(f.text());
    const medium = String(f.text());
    const address = String(f.text());
    const addedAt = f.int() ?? 0;
    return { userId, owner: readOwner(f, userId), medium, address, addedAt };
  });
}

export function externalIdsFrom(batches: FieldBatches): AsyncGenerator<SynapseExternalId[]> {
  return eachRow(batches, (f) => {
    const userId = String(f.text());
    const authProvider = String(f.text());
    const externalId = String(f.text());
    return { userId, owner: readOwner(f, userId), authProvider, externalId };
  });
}

/** The device columns after `user_id` and `device_id`, and its owner's. */
function deviceFields(f: FieldReader, userId: string, deviceId: string): SynapseDevice {
  const displayName = f.text();
  const lastSeen = f.int();
  const { ip, unparsable } = decodeIp(f.text());
  const userAgent = f.text();
  const hidden = f.bool();
  const owner = readOwner(f, userId);
  return { userId, owner, deviceId, displayName, lastSeen, ip, ipUnparsable: unparsable, userAgent, hidden, tokens: [] };
}

/**
 * Devices with their tokens, from rows of one (device, token) each, ordered so that a device's
 * rows are consecutive. A device is handed on once its last row is read (it may end a batch).
 */
export async function* devicesFrom(batches: FieldBatches): AsyncGenerator<SynapseDevice[]> {
  let current: SynapseDevice | undefined;
  for await (const f of batches) {
    const out: SynapseDevice[] = [];
    while (f.nextRow()) {
      const userId = String(f.textOr(current?.userId));
      const deviceId = String(f.textOr(current?.deviceId));
      if (current === undefined || userId !== current.userId || deviceId !== current.deviceId) {
        if (current !== undefined) out.push(current);
        current = deviceFields(f, userId, deviceId);
      } else {
        f.skip(DEVICE_AND_OWNER_REST);
      }
      const tokenId = f.int();
      if (tokenId !== null) current.tokens.push(tokenFields(f, tokenId, userId, deviceId));
    }
    if (out.length > 0) yield out;
  }
  if (current !== undefined) yield [current];
}

export function looseTokensFrom(batches: FieldBatches): AsyncGenerator<SynapseLooseToken[]> {
  return eachRow(batches, (f) => {
    // The owner comes first here: read its name, then the token's user (the same text when it matched).
    const name = f.text();
    const owner = ownerAfterName(f, name);
    const id = f.int();
    if (id === null) return undefined;
    return { owner, token: tokenFields(f, id, name ?? undefined) };
  });
}

export function unpairedRefreshTokensFrom(batches: FieldBatches): AsyncGenerator<SynapseUnpairedRefreshToken[]> {
  return eachRow(batches, (f) => {
    const id = Number(f.int());
    const userId = String(f.text());
    return { id, userId, owner: readOwner(f, userId) };
  });
}

/**
 * A Synapse source whose engine only says how to fetch each read's batches (rows with the columns
 * of its read in read-columns.ts); decoding and device grouping are the same for every engine.
 */
export abstract class BatchedSynapseSource implements SynapseSource {
  /** The rows of one read, in batches. */
  protected abstract batches(kind: ReadKind, only?: UserSubset): FieldBatches;
  abstract countRows(table: CountedTable): Promise<number>;
  abstract close(): Promise<void>;

  readUsers(only?: UserSubset): AsyncIterable<SynapseUser[]> {
    return usersFrom(this.batches("users", only));
  }

  readThreepids(only?: UserSubset): AsyncIterable<SynapseThreepid[]> {
    return threepidsFrom(this.batches("threepids", only));
  }

  readExternalIds(only?: UserSubset): AsyncIterable<SynapseExternalId[]> {
    return externalIdsFrom(this.batches("externalIds", only));
  }

  readDevices(only?: UserSubset): AsyncIterable<SynapseDevice[]> {
    return devicesFrom(this.batches("devices", only));
  }

  readLooseTokens(only?: UserSubset): AsyncIterable<SynapseLooseToken[]> {
    return looseTokensFrom(this.batches("looseTokens", only));
  }

  readUnpairedRefreshTokens(only?: UserSubset): AsyncIterable<SynapseUnpairedRefreshToken[]> {
    return unpairedRefreshTokensFrom(this.batches("unpairedRefreshTokens", only));
  }
}
