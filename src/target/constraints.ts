/**
 * Indexes and constraints of the MAS tables written, captured so they can be dropped before a bulk
 * load and rebuilt after it (PostgreSQL builds an index once much faster than it updates it per row).
 * Everything runs on the caller's client: inside a transaction it is all-or-nothing, schema included.
 */
import type pg from "pg";

/** The DDL needed to put the dropped objects back, in the order it must run. */
export interface SavedConstraints {
  /** `ALTER TABLE ... DROP ...` / `DROP INDEX ...`, in drop order. */
  drops: string[];
  /** `CREATE INDEX ...` / `ALTER TABLE ... ADD CONSTRAINT ...`, in rebuild order. */
  rebuilds: string[];
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Reads every primary key, unique constraint, foreign key and plain index of `tables` in the
 * current schema. The foreign keys: every one to or from these tables, or (`between`) only those
 * from one of them to another.
 */
export async function captureConstraints(
  client: pg.ClientBase,
  tables: readonly string[],
  options: { foreignKeys: "touching" | "between" } = { foreignKeys: "touching" },
): Promise<SavedConstraints> {
  const foreignKeys =
    options.foreignKeys === "between"
      ? "(c.contype = 'f' AND r.relname = ANY($1) AND f.relname = ANY($1) AND f.relnamespace = r.relnamespace)"
      : "(c.contype = 'f' AND (r.relname = ANY($1) OR f.relname = ANY($1)))";
  const constraints = await client.query<{ tbl: string; name: string; type: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS tbl, c.conname AS name, c.contype AS type, pg_get_constraintdef(c.oid) AS def
       FROM pg_constraint c
       JOIN pg_class r ON r.oid = c.conrelid
       LEFT JOIN pg_class f ON f.oid = c.confrelid
      WHERE r.relnamespace = current_schema()::regnamespace
        AND ((c.contype IN ('p', 'u') AND r.relname = ANY($1)) OR ${foreignKeys})
      ORDER BY c.contype, c.conname`,
    [tables],
  );
  const indexes = await client.query<{ name: string; def: string }>(
    `SELECT i.indexname AS name, i.indexdef AS def
       FROM pg_indexes i
      WHERE i.schemaname = current_schema() AND i.tablename = ANY($1)
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)
      ORDER BY i.indexname`,
    [tables],
  );
  const foreign = constraints.rows.filter((c) => c.type === "f");
  const keys = constraints.rows.filter((c) => c.type !== "f");
  return {
    drops: [...foreign.map(drop), ...keys.map(drop), ...indexes.rows.map((i) => `DROP INDEX ${quoteIdent(i.name)}`)],
    rebuilds: [...keys.map(add), ...indexes.rows.map((i) => i.def), ...foreign.map(add)],
  };
}

/**
 * The foreign keys of the current schema's other tables that reference `tables`: dropped, they let
 * `tables` be emptied at once (TRUNCATE, no trigger per row); added back, they are checked again.
 */
export async function captureReferencesInto(client: pg.ClientBase, tables: readonly string[]): Promise<SavedConstraints> {
  const foreign = await client.query<{ tbl: string; name: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS tbl, c.conname AS name, pg_get_constraintdef(c.oid) AS def
       FROM pg_constraint c
       JOIN pg_class r ON r.oid = c.conrelid
       JOIN pg_class f ON f.oid = c.confrelid
      WHERE r.relnamespace = current_schema()::regnamespace AND f.relnamespace = r.relnamespace AND c.contype = 'f'
        AND f.relname = ANY($1) AND NOT r.relname = ANY($1)
      ORDER BY r.relname, c.conname`,
    [tables],
  );
  return { drops: foreign.rows.map(drop), rebuilds: foreign.rows.map(add) };
}

/** The foreign keys from `tables` to the current schema's other tables (or another schema's). */
export async function captureReferencesOut(client: pg.ClientBase, tables: readonly string[]): Promise<SavedConstraints> {
  const foreign = await client.query<{ tbl: string; name: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS tbl, c.conname AS name, pg_get_constraintdef(c.oid) AS def
       FROM pg_constraint c
       JOIN pg_class r ON r.oid = c.conrelid
       JOIN pg_class f ON f.oid = c.confrelid
      WHERE r.relnamespace = current_schema()::regnamespace AND c.contype = 'f'
        AND r.relname = ANY($1) AND NOT (f.relname = ANY($1) AND f.relnamespace = r.relnamespace)
      ORDER BY r.relname, c.conname`,
    [tables],
  );
  return { drops: foreign.rows.map(drop), rebuilds: foreign.rows.map(add) };
}

function drop(c: { tbl: string; name: string }): string {
  return `ALTER TABLE ${c.tbl} DROP CONSTRAINT ${quoteIdent(c.name)}`;
}

function add(c: { tbl: string; name: string; def: string }): string {
  return `ALTER TABLE ${c.tbl} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.def}`;
}

/** Runs each statement in order. */
export async function runAll(client: pg.ClientBase, statements: string[]): Promise<void> {
  for (const sql of statements) await client.query(sql);
}
