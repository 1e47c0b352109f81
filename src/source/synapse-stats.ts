/** Aggregate questions about a Synapse database (in the snapshot's SQL dialect), for the checks: counts in SQL, a few examples. */
import type { SynapseQueries } from "./snapshot-readers.ts";
import { sqlIsLocalUserId } from "../model/user-id.ts";

/** Tables and columns this tool reads from Synapse. */
export const SYNAPSE_COLUMNS_READ: Record<string, string[]> = {
  users: ["name", "password_hash", "creation_ts", "admin", "is_guest", "appservice_id", "deactivated", "locked"],
  user_threepids: ["user_id", "medium", "address", "added_at"],
  user_external_ids: ["user_id", "auth_provider", "external_id"],
  devices: ["user_id", "device_id", "display_name", "last_seen", "ip", "user_agent", "hidden"],
  access_tokens: [
    "id",
    "user_id",
    "device_id",
    "token",
    "valid_until_ms",
    "puppets_user_id",
    "last_validated",
    "refresh_token_id",
    "used",
  ],
  refresh_tokens: ["id", "user_id", "token", "next_token_id", "expiry_ts", "ultimate_session_expiry_ts"],
};

/** The user-id column of each table read. */
const USER_ID_COLUMNS: Record<string, string> = {
  users: "name",
  user_threepids: "user_id",
  user_external_ids: "user_id",
  devices: "user_id",
  access_tokens: "user_id",
  refresh_tokens: "user_id",
};

/** A count of rows with up to `limit` example user ids. */
export interface RowSample {
  table: string;
  count: number;
  examples: string[];
}

/** `table.column` names read by this tool that the Synapse database lacks. */
export async function missingSynapseColumns(client: SynapseQueries): Promise<string[]> {
  const have = await client.presentColumns(Object.keys(SYNAPSE_COLUMNS_READ));
  return Object.entries(SYNAPSE_COLUMNS_READ).flatMap(([table, columns]) =>
    columns.map((c) => `${table}.${c}`).filter((name) => !have.has(name)),
  );
}

/** Up to `limit` distinct user ids of `table`'s rows matching `where` (on `t`), in order. */
async function examples(
  client: SynapseQueries,
  table: string,
  where: string,
  params: unknown[],
  limit: number,
): Promise<string[]> {
  const column = USER_ID_COLUMNS[table] as string;
  const rows = await client.rows<{ e: string }>(
    `SELECT DISTINCT ${column} AS e FROM ${table} t WHERE (${where}) AND ${column} IS NOT NULL ORDER BY 1 LIMIT ${limit}`,
    params,
  );
  return rows.map((r) => r.e);
}

/**
 * A condition keeping the rows of `only`'s users (a staged delta's: found by index, not every
 * row scanned), its list appended to `params`; every row when `only` is undefined.
 */
function amongUsers(client: SynapseQueries, only: readonly string[] | undefined, params: unknown[]): (column: string) => string {
  if (only === undefined) return () => "true";
  const list = client.dialect.param(params.length + 1);
  const postgres = client.dialect.engine === "postgres";
  params.push(postgres ? only : JSON.stringify(only));
  // A subquery, not `= ANY`: planned as a join (a generic plan scanned the array per row, measured).
  return (column) => `${column} IN (SELECT ${postgres ? `unnest(${list}::text[])` : `value FROM json_each(${list})`})`;
}

/** Rows whose user id is malformed or names another server, and rows of a local user with no `users` row. */
export interface InvalidUserIdRows {
  foreign: RowSample[];
  orphans: RowSample[];
}

/**
 * Counts, per table, the rows whose user id is malformed or not local (`foreign`), and the rows of
 * a local user id that has no `users` row (`orphans`): one scan per table, both counts from one
 * hash join (an anti-join per table misjudged the local-id test and probed the index per row).
 * Examples are looked up only for non-zero counts.
 */
export async function invalidUserIdRows(
  client: SynapseQueries,
  serverName: string,
  limit: number,
  only?: readonly string[],
): Promise<InvalidUserIdRows> {
  const params: unknown[] = [serverName];
  const among = amongUsers(client, only, params);
  const counted = await Promise.all(
    Object.entries(USER_ID_COLUMNS).map(async ([table, column]) => {
      const local = sqlIsLocalUserId(`t.${column}`, client.dialect.param(1), client.dialect);
      const orphanCount = table === "users" ? "0" : `count(*) FILTER (WHERE u.name IS NULL AND ${local})`;
      const join = table === "users" ? "" : `LEFT JOIN users u ON u.name = t.${column}`;
      const rows = await client.rows<{ n_foreign: string; n_orphans: string }>(
        `SELECT count(*) FILTER (WHERE NOT ${local}) AS n_foreign, ${orphanCount} AS n_orphans
           FROM ${table} t ${join} WHERE ${among(`t.${column}`)}`,
        params,
      );
      const row = rows[0];
      return { table, column, local, foreign: Number(row?.n_foreign ?? 0), orphans: Number(row?.n_orphans ?? 0) };
    }),
  );
  const samples = await Promise.all(
    counted.map(async ({ table, column, local, foreign, orphans }) => ({
      foreign:
        foreign === 0
          ? undefined
          : {
              table,
              count: foreign,
              examples: await examples(client, table, `NOT ${local} AND ${among(`t.${column}`)}`, params, limit),
            },
      orphan:
        orphans === 0
          ? undefined
          : {
              table,
              count: orphans,
              examples: await examples(
                client,
                table,
                `${local} AND ${among(`t.${column}`)} AND NOT EXISTS (SELECT 1 FROM users u WHERE u.name = t.${column})`,
                params,
                limit,
              ),
            },
    })),
  );
  return {
    foreign: samples.flatMap((s) => (s.foreign ? [s.foreign] : [])),
    orphans: samples.flatMap((s) => (s.orphan ? [s.orphan] : [])),
  };
}

/** Answers of {@link authProvidersInUse} per snapshot and server name: two checks ask, at the same time. */
const providersInUse = new WeakMap<SynapseQueries, Map<string, Promise<Map<string, number>>>>();

/**
 * `auth_provider` values of external ids that would be migrated (local, non-appservice owners),
 * with counts; of `only`'s users alone when given (a staged delta). Asked once per snapshot
 * (`client`) and subset: a join over every external id and user.
 */
export function authProvidersInUse(
  client: SynapseQueries,
  serverName: string,
  only?: readonly string[],
): Promise<Map<string, number>> {
  let byServer = providersInUse.get(client);
  if (byServer === undefined) providersInUse.set(client, (byServer = new Map()));
  const key = only === undefined ? serverName : `${serverName}\0delta`;
  let answer = byServer.get(key);
  if (answer === undefined) {
    answer = queryAuthProvidersInUse(client, serverName, only);
    byServer.set(key, answer);
  }
  return answer;
}

async function queryAuthProvidersInUse(
  client: SynapseQueries,
  serverName: string,
  only: readonly string[] | undefined,
): Promise<Map<string, number>> {
  const params: unknown[] = [serverName];
  const among = amongUsers(client, only, params);
  const rows = await client.rows<{ auth_provider: string; n: string }>(
    `SELECT e.auth_provider, count(*) AS n
       FROM user_external_ids e JOIN users u ON u.name = e.user_id
      WHERE nullif(u.appservice_id, '') IS NULL AND ${sqlIsLocalUserId("u.name", client.dialect.param(1), client.dialect)}
        AND ${among("e.user_id")}
      GROUP BY e.auth_provider ORDER BY e.auth_provider`,
    params,
  );
  return new Map(rows.map((r) => [r.auth_provider, Number(r.n)]));
}

/**
 * How many `user_external_ids` rows have this `auth_provider`, whoever owns them: the rows that
 * `DELETE FROM user_external_ids WHERE auth_provider = ...` removes.
 */
export async function countExternalIdsOf(client: SynapseQueries, authProvider: string): Promise<number> {
  const rows = await client.rows<{ n: string | number }>(
    `SELECT count(*) AS n FROM user_external_ids WHERE auth_provider = ${client.dialect.param(1)}`,
    [authProvider],
  );
  return Number(rows[0]?.n ?? 0);
}
