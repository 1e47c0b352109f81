/** Read-only questions about a MAS database: its schema, whether it is empty, its providers, the lock. */
import type pg from "pg";
import type { MasTableName } from "../model/mas.ts";
import { uncheckedForeignKeys, type ForeignKey } from "./constraints.ts";
import { NEWEST_KNOWN_MAS_MIGRATION, type RecordedMigration } from "./mas-migrations.ts";
import { TABLE_ORDER, TABLES } from "./tables.ts";

/** Newest MAS migration this tool was tested with (MAS 1.22.0). */
export const NEWEST_TESTED_MAS_MIGRATION = NEWEST_KNOWN_MAS_MIGRATION;

/** The advisory lock key that marks "a syn2mas migration is writing to this database". */
export const MIGRATION_LOCK_KEY = 0x73796e326d6173n; // "syn2mas"

export interface MasSchemaState {
  /** False when `_sqlx_migrations` does not exist: MAS's migrations never ran. */
  hasMigrationsTable: boolean;
  /** The rows of `_sqlx_migrations` (empty when it does not exist). */
  migrations: RecordedMigration[];
  /** The newest migration recorded as succeeded. */
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
  const migrations: RecordedMigration[] = [];
  if (present.has("_sqlx_migrations")) {
    const rows = await client.query<{ v: string; success: boolean }>(
      "SELECT version::text AS v, success FROM _sqlx_migrations ORDER BY version",
    );
    migrations.push(...rows.rows.map((r) => ({ version: BigInt(r.v), success: r.success })));
  }
  const succeeded = migrations.filter((m) => m.success);
  return {
    hasMigrationsTable: present.has("_sqlx_migrations"),
    migrations,
    newestMigration: succeeded.length > 0 ? (succeeded[succeeded.length - 1] as RecordedMigration).version : null,
    missingColumns,
    presentOptionalColumns,
    hasProvidersTable: present.has("upstream_oauth_providers"),
  };
}

/**
 * Whether the database holds Synapse's own tables (`schema_version`, `event_json`, `room_memberships`)
 * in its current schema: then it is Synapse's database (or a copy), not MAS's.
 */
export async function isSynapseDatabase(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_name = ANY($1)`,
    [["schema_version", "event_json", "room_memberships"]],
  );
  return result.rows[0]?.n === 3;
}

/** Row counts of the target tables that are not empty. */
export async function countNonEmptyTargets(client: pg.ClientBase): Promise<Map<MasTableName, number>> {
  const sql = TABLE_ORDER.map((t) => `SELECT '${t}' AS t, count(*)::bigint AS n FROM (SELECT 1 FROM ${t} LIMIT 1000000) s`).join(
    " UNION ALL ",
  );
  const result = await client.query<{ t: MasTableName; n: string }>(sql);
  return new Map(result.rows.filter((r) => Number(r.n) > 0).map((r) => [r.t, Number(r.n)]));
}

/** The first usernames of MAS's `users` table, in username order. */
export async function someMasUsernames(client: pg.ClientBase, limit: number): Promise<string[]> {
  const result = await client.query<{ username: string }>("SELECT username FROM users ORDER BY username LIMIT $1", [limit]);
  return result.rows.map((r) => r.username);
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

/** The migration lock key as PostgreSQL's pg_locks shows a bigint advisory key: high and low 32 bits. */
const LOCK_KEY_HIGH = (MIGRATION_LOCK_KEY >> 32n).toString();
const LOCK_KEY_LOW = (MIGRATION_LOCK_KEY & 0xffffffffn).toString();

/**
 * Whether a migration holds the migration lock on this database right now. Only looks (in
 * pg_locks): takes no lock, so a migration starting at the same moment is never turned away.
 */
export async function migrationLockHeld(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ held: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid::bigint = $1::bigint AND objid::bigint = $2::bigint
     ) AS held`,
    [LOCK_KEY_HIGH, LOCK_KEY_LOW],
  );
  return result.rows[0]?.held === true;
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

/**
 * MAS's foreign keys to or from the tables the migration writes that were never checked against
 * every row: a cut-over stopped between its commit and the end of its checks left them NOT VALID.
 */
export async function uncheckedMigrationKeys(client: pg.ClientBase): Promise<ForeignKey[]> {
  return uncheckedForeignKeys(client, TABLE_ORDER);
}
