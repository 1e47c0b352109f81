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
  refresh_tokens: ["id", "user_id", "token", "next_token_id"],
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

async function sampleEach(
  client: Queryable,
  tables: string[],
  where: (table: string, column: string) => string,
  params: unknown[],
  limit: number,
): Promise<RowSample[]> {
  const results = await Promise.all(
    tables.map(async (table) => {
      const column = USER_ID_COLUMNS[table] as string;
      // Plain SQL that SQLite runs too; the examples are looked up only when there are rows.
      const counted = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} t WHERE ${where(table, column)}`, params);
      const count = Number(counted.rows[0]?.n ?? 0);
      if (count === 0) return { table, count, examples: [] };
      const examples = await client.query<{ e: string }>(
        `SELECT DISTINCT ${column} AS e FROM ${table} t WHERE (${where(table, column)}) AND ${column} IS NOT NULL
          ORDER BY 1 LIMIT ${limit}`,
        params,
      );
      return { table, count, examples: examples.rows.map((r) => r.e) };
    }),
  );
  return results.filter((sample) => sample.count > 0);
}

/** Rows whose user id is malformed or names another server, per table. */
export function foreignUserIdRows(client: Queryable, serverName: string, limit: number): Promise<RowSample[]> {
  return sampleEach(
    client,
    Object.keys(USER_ID_COLUMNS),
    (_table, column) => `NOT ${sqlIsLocalUserId(`t.${column}`, "$1")}`,
    [serverName],
    limit,
  );
}

/** Rows with a local user id but no `users` row, per table. */
export function orphanRows(client: Queryable, serverName: string, limit: number): Promise<RowSample[]> {
  return sampleEach(
    client,
    Object.keys(USER_ID_COLUMNS).filter((t) => t !== "users"),
    (_table, column) =>
      `${sqlIsLocalUserId(`t.${column}`, "$1")} AND NOT EXISTS (SELECT 1 FROM users u WHERE u.name = t.${column})`,
    [serverName],
    limit,
  );
}

/** `auth_provider` values of external ids that would be migrated (local, non-appservice owners), with counts. */
export async function authProvidersInUse(client: Queryable, serverName: string): Promise<Map<string, number>> {
  const result = await client.query<{ auth_provider: string; n: string }>(
    `SELECT e.auth_provider, count(*) AS n
       FROM user_external_ids e JOIN users u ON u.name = e.user_id
      WHERE nullif(u.appservice_id, '') IS NULL AND ${sqlIsLocalUserId("e.user_id", "$1")}
      GROUP BY e.auth_provider ORDER BY e.auth_provider`,
    [serverName],
  );
  return new Map(result.rows.map((r) => [r.auth_provider, Number(r.n)]));
}

/**
 * Other client sessions connected to the same database (Synapse itself, workers, admin tools), not
 * ours. For SQLite: other processes with the file open, and changes left in its `-wal`.
 */
export async function otherSessions(client: Queryable, ownPids: number[] = []): Promise<string[]> {
  if (isSqlite(client)) return client.otherSessions();
  const result = await client.query<{ who: string }>(
    `SELECT coalesce(nullif(application_name, ''), 'unnamed') || ' (' || coalesce(usename, '?') || ', pid ' || pid || ')' AS who
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT pid = ANY($1::int[])
        AND backend_type = 'client backend'
      ORDER BY pid`,
    [ownPids],
  );
  return result.rows.map((r) => r.who);
}
