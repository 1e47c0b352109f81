/** Aggregate questions about a Synapse database (PostgreSQL's SQL, which SQLite runs too), for the checks: counts in SQL, a few examples. */
import type { Queryable } from "./snapshot-readers.ts";
import { isSqlite } from "./sqlite-queryable.ts";
import { sqlIsLocalUserId } from "../model/user-id.ts";

/** Tables and columns this tool reads from Synapse. */
export const SYNAPSE_COLUMNS_READ: Record<string, string[]> = {
  users: ["name", "password_hash", "creation_ts", "admin", "is_guest", "appservice_id", "deactivated", "locked"],
  user_threepids: ["user_id", "medium", "address", "added_at"],
  user_external_ids: ["user_id", "auth_provider", "external_id"],
  devices: ["user_id", "device_id", "display_name", "last_seen", "ip", "user_agent", "hidden"],
  access_tokens: [
    "id", "user_id", "device_id", "token", "valid_until_ms", "puppets_user_id", "last_validated", "refresh_token_id", "used",
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

/** `table.column` for every column of `tables` in the current schema. */
async function presentColumns(client: Queryable, tables: string[]): Promise<Set<string>> {
  if (isSqlite(client)) return client.presentColumns(tables);
  const result = await client.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ANY($1)`,
    [tables],
  );
  return new Set(result.rows.map((r) => `${r.table_name}.${r.column_name}`));
}

/** `table.column` names read by this tool that the Synapse database lacks. */
export async function missingSynapseColumns(client: Queryable): Promise<string[]> {
  const have = await presentColumns(client, Object.keys(SYNAPSE_COLUMNS_READ));
  return Object.entries(SYNAPSE_COLUMNS_READ).flatMap(([table, columns]) =>
    columns.map((c) => `${table}.${c}`).filter((name) => !have.has(name)),
  );
}

/** Up to `limit` distinct user ids of `table`'s rows matching `where` (on `t`), in order. */
async function examples(client: Queryable, table: string, where: string, params: unknown[], limit: number): Promise<string[]> {
  const column = USER_ID_COLUMNS[table] as string;
  const result = await client.query<{ e: string }>(
    `SELECT DISTINCT ${column} AS e FROM ${table} t WHERE (${where}) AND ${column} IS NOT NULL ORDER BY 1 LIMIT ${limit}`,
    params,
  );
  return result.rows.map((r) => r.e);
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
export async function invalidUserIdRows(client: Queryable, serverName: string, limit: number): Promise<InvalidUserIdRows> {
  const params = [serverName];
  const counted = await Promise.all(
    Object.entries(USER_ID_COLUMNS).map(async ([table, column]) => {
      const local = sqlIsLocalUserId(`t.${column}`, "$1");
      const orphanCount = table === "users" ? "0" : `count(*) FILTER (WHERE u.name IS NULL AND ${local})`;
      const join = table === "users" ? "" : `LEFT JOIN users u ON u.name = t.${column}`;
      const result = await client.query<{ n_foreign: string; n_orphans: string }>(
        `SELECT count(*) FILTER (WHERE NOT ${local}) AS n_foreign, ${orphanCount} AS n_orphans FROM ${table} t ${join}`,
        params,
      );
      const row = result.rows[0];
      return { table, column, local, foreign: Number(row?.n_foreign ?? 0), orphans: Number(row?.n_orphans ?? 0) };
    }),
  );
  const samples = await Promise.all(
    counted.map(async ({ table, column, local, foreign, orphans }) => ({
      foreign: foreign === 0 ? undefined : { table, count: foreign, examples: await examples(client, table, `NOT ${local}`, params, limit) },
      orphan:
        orphans === 0
          ? undefined
          : {
              table,
              count: orphans,
              examples: await examples(client, table, `${local} AND NOT EXISTS (SELECT 1 FROM users u WHERE u.name = t.${column})`, params, limit),
            },
    })),
  );
  return {
    foreign: samples.flatMap((s) => (s.foreign ? [s.foreign] : [])),
    orphans: samples.flatMap((s) => (s.orphan ? [s.orphan] : [])),
  };
}

/** Answers of {@link authProvidersInUse} per snapshot and server name: two checks ask, at the same time. */
const providersInUse = new WeakMap<Queryable, Map<string, Promise<Map<string, number>>>>();

/**
 * `auth_provider` values of external ids that would be migrated (local, non-appservice owners),
 * with counts. Asked once per snapshot (`client`): a join over every external id and user.
 */
export function authProvidersInUse(client: Queryable, serverName: string): Promise<Map<string, number>> {
  let byServer = providersInUse.get(client);
  if (byServer === undefined) providersInUse.set(client, (byServer = new Map()));
  let answer = byServer.get(serverName);
  if (answer === undefined) {
    answer = queryAuthProvidersInUse(client, serverName);
    byServer.set(serverName, answer);
  }
  return answer;
}

async function queryAuthProvidersInUse(client: Queryable, serverName: string): Promise<Map<string, number>> {
  const result = await client.query<{ auth_provider: string; n: string }>(
    `SELECT e.auth_provider, count(*) AS n
       FROM user_external_ids e JOIN users u ON u.name = e.user_id
      WHERE nullif(u.appservice_id, '') IS NULL AND ${sqlIsLocalUserId("u.name", "$1")}
      GROUP BY e.auth_provider ORDER BY e.auth_provider`,
    [serverName],
  );
  return new Map(result.rows.map((r) => [r.auth_provider, Number(r.n)]));
}

/** A client session of a database, as {@link otherSessions} lists it. */
export interface OtherSession {
  /** Its application_name ("" when unset, and for SQLite). */
  applicationName: string;
  /** E.g. `synapse-main (synapse, pid 42)`. */
  who: string;
}

/**
 * Other client sessions connected to the same database (Synapse itself, workers, admin tools, other
 * syn2mas runs), not ours. For SQLite: other processes with the file open, and changes left in its `-wal`.
 */
export async function otherSessions(client: Queryable, ownPids: number[] = []): Promise<OtherSession[]> {
  if (isSqlite(client)) return (await client.otherSessions()).map((who) => ({ applicationName: "", who }));
  const result = await client.query<OtherSession>(
    `SELECT coalesce(application_name, '') AS "applicationName",
            coalesce(nullif(application_name, ''), 'unnamed') || ' (' || coalesce(usename, '?') || ', pid ' || pid || ')' AS who
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT pid = ANY($1::int[])
        AND backend_type = 'client backend'
      ORDER BY pid`,
    [ownPids],
  );
  return result.rows;
}
