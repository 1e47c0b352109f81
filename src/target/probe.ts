/** Read-only questions about a MAS database: its schema, whether it is empty, its providers, the lock. */
import type pg from "pg";
import type { MasTableName } from "../model/mas.ts";
import { TABLE_ORDER, TABLES } from "./tables.ts";

/** Newest MAS migration this tool was tested with (MAS 1.22.0). */
export const NEWEST_TESTED_MAS_MIGRATION = 20260720134722n;

/** The advisory lock key that marks "a syn2mas migration is writing to this database". */
export const MIGRATION_LOCK_KEY = 0x73796e326d6173n; // "syn2mas"

export interface MasSchemaState {
  /** False when `_sqlx_migrations` does not exist: MAS's migrations never ran. */
  hasMigrationsTable: boolean;
  newestMigration: bigint | null;
  /** `table.column` names this tool writes that are missing. */
  missingColumns: string[];
  /** `table.column` names of optional columns that are present (e.g. `user_emails.confirmed_at`). */
  presentOptionalColumns: Set<string>;
  /** Whether `upstream_oauth_providers` exists (needed to check provider ids). */
  hasProvidersTable: boolean;
}

/** Reads the shape of the MAS schema from the catalog (current schema only). */
export async function probeMasSchema(client: pg.ClientBase): Promise<MasSchemaState> {
  const tables = await client.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_name = ANY($1)`,
    [["_sqlx_migrations", "upstream_oauth_providers"]],
  );
  const present = new Set(tables.rows.map((r) => r.table_name));
  const columns = await client.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ANY($1)`,
    [TABLE_ORDER as string[]],
  );
  const have = new Set(columns.rows.map((r) => `${r.table_name}.${r.column_name}`));
  const missingColumns: string[] = [];
  const presentOptionalColumns = new Set<string>();
  for (const table of TABLE_ORDER) {
    for (const column of TABLES[table]) {
      const name = `${table}.${column.name}`;
      if (have.has(name)) {
        if (column.optional) presentOptionalColumns.add(name);
      } else if (!column.optional) {
        missingColumns.push(name);
      }
    }
  }
  let newestMigration: bigint | null = null;
  if (present.has("_sqlx_migrations")) {
    const newest = await client.query<{ v: string | null }>(
      "SELECT max(version)::text AS v FROM _sqlx_migrations WHERE success",
    );
    newestMigration = newest.rows[0]?.v ? BigInt(newest.rows[0].v) : null;
  }
  return {
    hasMigrationsTable: present.has("_sqlx_migrations"),
    newestMigration,
    missingColumns,
    presentOptionalColumns,
    hasProvidersTable: present.has("upstream_oauth_providers"),
  };
}

/** Row counts of the target tables that are not empty. */
export async function countNonEmptyTargets(client: pg.ClientBase): Promise<Map<MasTableName, number>> {
  const sql = TABLE_ORDER.map(
    (t) => `SELECT '${t}' AS t, count(*)::bigint AS n FROM (SELECT 1 FROM ${t} LIMIT 1000000) s`,
  ).join(" UNION ALL ");
  const result = await client.query<{ t: MasTableName; n: string }>(sql);
  return new Map(result.rows.filter((r) => Number(r.n) > 0).map((r) => [r.t, Number(r.n)]));
}

/** Which of the given provider ids have a row in `upstream_oauth_providers`. */
export async function existingProviderIds(client: pg.ClientBase, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const result = await client.query<{ id: string }>(
    "SELECT upstream_oauth_provider_id::text AS id FROM upstream_oauth_providers WHERE upstream_oauth_provider_id = ANY($1::uuid[])",
    [ids],
  );
  return new Set(result.rows.map((r) => r.id));
}

/**
 * Takes the migration lock for the current transaction (released at COMMIT or ROLLBACK, or when
 * the connection drops). Returns false when another run holds it.
 */
export async function tryLockForTransaction(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1::bigint) AS ok", [
    MIGRATION_LOCK_KEY.toString(),
  ]);
  return result.rows[0]?.ok === true;
}
