/** Row builders with defaults and a deterministic mapping context, for the table-driven mapping tests. */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import type { MappingContext } from "../src/mapping/context.ts";
import type { MappingResult, Note, Skip } from "../src/mapping/skip.ts";
import { mapUser } from "../src/mapping/users.ts";
import { ulidFromParts, ulidTimeMs, type MasId } from "../src/model/ids.ts";
import type { MasRow, MasRowOf, MasTableName } from "../src/model/mas.ts";
import { FIXTURE_PROVIDER_IDS } from "./harness/fixtures.ts";
import type {
  SynapseAccessToken,
  SynapseDevice,
  SynapseExternalId,
  SynapseLooseToken,
  SynapseOwner,
  SynapseRefreshToken,
  SynapseThreepid,
  SynapseUnpairedRefreshToken,
  SynapseUser,
} from "../src/model/synapse.ts";

/** The server every default row lives on. */
export const SERVER_NAME = "example.com";
/** The default user. */
export const ALICE = "@alice:example.com";
/** The default user's `creation_ts`, in seconds as Synapse keeps it (2020-09-13T12:26:40Z). */
export const ALICE_CREATION_TS = 1_600_000_000;
/** The same time in milliseconds, as MAS keeps it. */
export const ALICE_CREATED_MS = ALICE_CREATION_TS * 1000;
/** The fixed start time of the test migration (2027-01-15T08:00:00Z). */
export const STARTED_AT = 1_800_000_000_000;
/** The MAS provider the fixture's `keycloak` OIDC provider was synced to (ULID 01JSHPZHAXC50QBKH67MH33TNF). */
export const KEYCLOAK_PROVIDER_ID = FIXTURE_PROVIDER_IDS.keycloak as MasId;
/** A Synapse bcrypt hash, as `users.password_hash` holds it. */
export const BCRYPT_HASH = "$2b$12$Q0xoG5V1K9bO8yFh3c2fUe3M4x1mYx5mRz3vJm4V9C7pN0kL2aB6u";
/** The default device's last activity (ms). */
export const DEVICE_LAST_SEEN = 1_700_000_500_000;
/** The default access token's `last_validated` (ms). */
export const TOKEN_LAST_VALIDATED = 1_700_000_100_000;

/** A row's owner: `@alice:example.com`, an ordinary local user. */
export function owner(overrides: Partial<SynapseOwner> = {}): SynapseOwner {
  return {
    name: ALICE,
    creationTs: ALICE_CREATION_TS,
    admin: false,
    isGuest: false,
    deactivated: false,
    appserviceId: null,
    ...overrides,
  };
}

/** A row of `users`: alice, with a bcrypt password, not locked, without an external id. */
export function synapseUser(overrides: Partial<SynapseUser> = {}): SynapseUser {
  return { ...owner(), passwordHash: BCRYPT_HASH, locked: false, hasExternalId: false, ...overrides };
}

/** The user id a row names: its owner's, unless it has no owner. */
function userIdFor(overrides: { owner?: SynapseOwner | null }): string {
  return overrides.owner?.name ?? ALICE;
}

/** A row of `user_threepids`: alice's email address. */
export function threepid(overrides: Partial<SynapseThreepid> = {}): SynapseThreepid {
  return {
    userId: userIdFor(overrides),
    owner: owner(),
    medium: "email",
    address: "alice@example.org",
    addedAt: 1_650_000_000_000,
    ...overrides,
  };
}

/** A row of `user_external_ids`: alice's subject at the keycloak provider. */
export function externalId(overrides: Partial<SynapseExternalId> = {}): SynapseExternalId {
  return {
    userId: userIdFor(overrides),
    owner: owner(),
    authProvider: "oidc-keycloak",
    externalId: "5b1c9e4e-2c7e-4f7c-9b1a-0d8f6f0a1c2e",
    ...overrides,
  };
}

/** A row of `refresh_tokens`, not superseded, never expiring. */
export function refreshToken(overrides: Partial<SynapseRefreshToken> = {}): SynapseRefreshToken {
  return {
    id: 201,
    token: "syr_YWxpY2U_refreshtoken201_0aBcDe",
    supersededAndUsed: false,
    expiryTs: null,
    ultimateSessionExpiryTs: null,
    ...overrides,
  };
}

/** A row of `access_tokens`: alice's, on device `DEVICEA`, without a refresh token. */
export function accessToken(overrides: Partial<SynapseAccessToken> = {}): SynapseAccessToken {
  return {
    id: 101,
    userId: ALICE,
    deviceId: "DEVICEA",
    token: "syt_YWxpY2U_accesstoken101_1fGhIj",
    validUntilMs: null,
    puppetsUserId: null,
    lastValidated: TOKEN_LAST_VALIDATED,
    refresh: null,
    ...overrides,
  };
}

/** A row of `devices`: alice's visible phone, with no tokens. */
export function device(overrides: Partial<SynapseDevice> = {}): SynapseDevice {
  return {
    userId: userIdFor(overrides),
    owner: owner(),
    deviceId: "DEVICEA",
    displayName: "Alice's phone",
    lastSeen: DEVICE_LAST_SEEN,
    ip: "192.0.2.10",
    ipUnparsable: false,
    userAgent: "Element/1.11.0 (Android 14)",
    hidden: false,
    tokens: [],
    ...overrides,
  };
}

/** An access token that is on no device (`device_id` NULL unless overridden), owned by `tokenOwner`. */
export function looseToken(
  token: Partial<SynapseAccessToken> = {},
  tokenOwner: SynapseOwner | null = owner(),
): SynapseLooseToken {
  return { owner: tokenOwner, token: accessToken({ userId: tokenOwner?.name ?? ALICE, deviceId: null, ...token }) };
}

/** A refresh token that no access token points at. */
export function unpairedRefreshToken(overrides: Partial<SynapseUnpairedRefreshToken> = {}): SynapseUnpairedRefreshToken {
  return { id: 301, userId: userIdFor(overrides), owner: owner(), ...overrides };
}

/**
 * A mapping context on `example.com`, started at {@link STARTED_AT}, with `oidc-keycloak` mapped.
 * Its `deriveId` keys an HMAC with `seed`, so equal keys give equal ids within one seed.
 */
export function testContext(overrides: Partial<MappingContext> & { seed?: string } = {}): MappingContext {
  const { seed = "test-run", ...rest } = overrides;
  return {
    serverName: SERVER_NAME,
    startedAt: STARTED_AT,
    providers: new Map([["oidc-keycloak", KEYCLOAK_PROVIDER_ID]]),
    deriveId: (timeMs, naturalKey) =>
      ulidFromParts(timeMs, createHmac("sha256", seed).update(naturalKey).digest("hex").slice(0, 20)),
    ...rest,
  };
}

/** The MAS user id that `mapUser` gives the user `who` (the id every other table must reference). */
export function mappedUserId(who: SynapseOwner, ctx: MappingContext = testContext()): MasId {
  const first = mapUser(synapseUser({ ...who }), ctx).rows[0];
  if (first?.table !== "users") throw new Error(`mapUser did not migrate ${who.name}`);
  return first.row.userId;
}

/** The id a MAS row is known by, for tables that have one. */
export function ownIdOf(entry: MasRow): MasId | undefined {
  switch (entry.table) {
    case "users":
      return entry.row.userId;
    case "user_passwords":
      return entry.row.userPasswordId;
    case "user_emails":
      return entry.row.userEmailId;
    case "user_unsupported_third_party_ids":
      return undefined;
    case "upstream_oauth_links":
      return entry.row.upstreamOauthLinkId;
    case "compat_sessions":
      return entry.row.compatSessionId;
    case "compat_access_tokens":
      return entry.row.compatAccessTokenId;
    case "compat_refresh_tokens":
      return entry.row.compatRefreshTokenId;
  }
}

/** A row as a case writes it: ids minted by the mapping are labels `#0`, `#1`, ... in order of emission. */
type Labelled<R> = { [K in keyof R]: R[K] extends MasId ? string : R[K] };

/** One expected MAS row. */
export type ExpectedRow = { [T in MasTableName]: { table: T; row: Labelled<MasRowOf<T>> } }[MasTableName];

/** What a case expects a mapping to return; missing lists are empty. */
export interface Expected {
  rows?: ExpectedRow[];
  skips?: Skip[];
  notes?: Note[];
}

/** The expected compat access token `id` for {@link accessToken}'s defaults, on session `#0` unless changed. */
export function accessTokenRow(id: string, changes: Partial<Labelled<MasRowOf<"compat_access_tokens">>> = {}): ExpectedRow {
  return {
    table: "compat_access_tokens",
    row: {
      compatAccessTokenId: id,
      compatSessionId: "#0",
      accessToken: accessToken().token,
      createdAt: TOKEN_LAST_VALIDATED,
      expiresAt: null,
      ...changes,
    },
  };
}

/** The expected compat refresh token `id` for {@link refreshToken}'s defaults, paired with access token `accessId`. */
export function refreshTokenRow(
  id: string,
  accessId: string,
  changes: Partial<Labelled<MasRowOf<"compat_refresh_tokens">>> = {},
): ExpectedRow {
  return {
    table: "compat_refresh_tokens",
    row: {
      compatRefreshTokenId: id,
      compatSessionId: "#0",
      compatAccessTokenId: accessId,
      refreshToken: refreshToken().token,
      createdAt: TOKEN_LAST_VALIDATED,
      ...changes,
    },
  };
}

/**
 * Replaces every id minted in `result` (each row's own id) by `#n`, n counting distinct ids in
 * order of emission, wherever it appears, so that a case can state which row references which.
 * Ids from outside (users of other phases, providers) are kept as they are.
 */
export function labelIds(result: MappingResult): Required<Expected> {
  const labels = new Map<string, string>();
  for (const entry of result.rows) {
    const id = ownIdOf(entry);
    if (id !== undefined && !labels.has(id)) labels.set(id, `#${labels.size}`);
  }
  const rows = result.rows.map((entry) => ({
    table: entry.table,
    row: Object.fromEntries(
      Object.entries(entry.row).map(([key, value]) => [key, typeof value === "string" ? (labels.get(value) ?? value) : value]),
    ),
  }));
  return { rows: rows as ExpectedRow[], skips: result.skips, notes: result.notes };
}

/** Asserts that every minted id is a UUID whose ULID time part is its row's `created_at`. */
export function assertIdTimes(result: MappingResult): void {
  for (const entry of result.rows) {
    const id = ownIdOf(entry);
    if (id === undefined) continue;
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `${entry.table} id is a UUID`);
    assert.equal(ulidTimeMs(id), entry.row.createdAt, `${entry.table} id time part is its created_at`);
  }
}

/** Asserts a mapping's whole result against a case's expectation, and the time part of its ids. */
export function assertMapped(result: MappingResult, expected: Expected): void {
  assert.deepEqual(labelIds(result), { rows: [], skips: [], notes: [], ...expected });
  assertIdTimes(result);
}
