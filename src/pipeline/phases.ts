/** The phases of a migration, in write order: which Synapse read feeds which mapper into which MAS tables. */
import type { MappingContext } from "../mapping/context.ts";
import { mapDevice } from "../mapping/devices.ts";
import { mapExternalId } from "../mapping/external-ids.ts";
import type { MappingResult } from "../mapping/skip.ts";
import { mapThreepid } from "../mapping/threepids.ts";
import { mapLooseToken, mapUnpairedRefreshToken } from "../mapping/tokens.ts";
import { mapUser } from "../mapping/users.ts";
import type { MasTableName } from "../model/mas.ts";
import type { CountedTable, SynapseSource, UserSubset } from "../source/source.ts";

/** One pass over one Synapse read. `tables[0]` is written live; the others are spooled then copied. */
export interface Phase {
  name: string;
  tables: readonly MasTableName[];
  /** The phase's Synapse rows, in batches (with `only`, the rows of those users alone). */
  read(source: SynapseSource, only?: UserSubset): AsyncIterable<readonly unknown[]>;
  map(row: unknown, ctx: MappingContext): MappingResult;
  /** The Synapse user (full id) a row belongs to: a staged run keeps its rows by user. */
  userOf(row: unknown): string;
  /** How many rows `read` will yield, for progress (omitted where counting costs a full scan). */
  total?(source: SynapseSource): Promise<number>;
}

function phase<R>(
  name: string,
  tables: readonly MasTableName[],
  read: (source: SynapseSource, only?: UserSubset) => AsyncIterable<readonly R[]>,
  map: (row: R, ctx: MappingContext) => MappingResult,
  userOf: (row: R) => string,
  countedTable?: CountedTable,
): Phase {
  const total = countedTable === undefined ? undefined : (source: SynapseSource) => source.countRows(countedTable);
  return {
    name,
    tables,
    read,
    map: map as Phase["map"],
    userOf: userOf as Phase["userOf"],
    ...(total ? { total } : {}),
  };
}

const SESSION_TABLES = ["compat_sessions", "compat_access_tokens", "compat_refresh_tokens"] as const;

/** Every phase, parents before children so that foreign keys hold row by row. */
export const PHASES: readonly Phase[] = [
  // upstream_oauth_links: --link localpart=... links users known only by their localpart.
  phase(
    "users",
    ["users", "user_passwords", "upstream_oauth_links"],
    (s, only) => s.readUsers(only),
    mapUser,
    (u) => u.name,
    "users",
  ),
  phase(
    "threepids",
    ["user_emails", "user_unsupported_third_party_ids"],
    (s, only) => s.readThreepids(only),
    mapThreepid,
    (t) => t.userId,
    "user_threepids",
  ),
  phase(
    "external_ids",
    ["upstream_oauth_links"],
    (s, only) => s.readExternalIds(only),
    mapExternalId,
    (e) => e.userId,
    "user_external_ids",
  ),
  phase(
    "devices",
    SESSION_TABLES,
    (s, only) => s.readDevices(only),
    mapDevice,
    (d) => d.userId,
    "devices",
  ),
  phase(
    "deviceless_tokens",
    SESSION_TABLES,
    (s, only) => s.readLooseTokens(only),
    mapLooseToken,
    (t) => t.token.userId,
  ),
  phase(
    "unpaired_refresh_tokens",
    [],
    (s, only) => s.readUnpairedRefreshTokens(only),
    mapUnpairedRefreshToken,
    (r) => r.userId,
  ),
];
