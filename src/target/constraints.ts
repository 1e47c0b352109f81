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

/** The foreign keys to or from `tables` (a condition over `pg_constraint c`, its table `r` and the referenced `f`). */
const TOUCHING_FOREIGN_KEYS = "(c.contype = 'f' AND (r.relname = ANY($1) OR f.relname = ANY($1)))";

/**
 * The foreign keys between two of `tables` whose referencing columns lead an index of their table:
 * deleting a referenced row checks such a key with a probe, not a scan of the referencing table.
 */
const INDEXED_FOREIGN_KEYS_AMONG = `(c.contype = 'f' AND r.relname = ANY($1) AND f.relname = ANY($1)
  AND f.relnamespace = r.relnamespace
  AND EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
                 AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] = c.conkey))`;

/** Which foreign keys {@link captureConstraints} reads besides the keys and indexes. */
const FOREIGN_KEYS = {
  /** Every foreign key to or from the tables. */
  touching: TOUCHING_FOREIGN_KEYS,
  /** Those between two of the tables, checked by a probe when a referenced row goes. */
  "indexed-among": INDEXED_FOREIGN_KEYS_AMONG,
} as const;

/**
 * Reads every primary key, unique constraint and plain index of `tables` in the current schema,
 * and the foreign keys `foreignKeys` names (default: every one to or from them).
 */
export async function captureConstraints(
  client: pg.ClientBase,
  tables: readonly string[],
  options: { foreignKeys: keyof typeof FOREIGN_KEYS } = { foreignKeys: "touching" },
): Promise<SavedConstraints> {
  const foreignKeys = FOREIGN_KEYS[options.foreignKeys];
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

/** A foreign key added back: the statement, and its table and name (to validate it later). */
export interface ForeignKey {
  table: string;
  name: string;
  /** `ALTER TABLE ... DROP CONSTRAINT ...` */
  drop: string;
  /** `ALTER TABLE ... ADD CONSTRAINT ... NOT VALID`: no scan now; {@link validateForeignKey} checks the rows later. */
  addNotValid: string;
}

/** How a foreign key is named to the operator and compared: `table.constraint`. */
export function foreignKeyName(key: Pick<ForeignKey, "table" | "name">): string {
  return `${key.table}.${key.name}`;
}

/** Every foreign key to or from `tables` in the current schema. */
export async function captureForeignKeys(
  client: pg.ClientBase,
  tables: readonly string[],
  options: { uncheckedOnly?: boolean } = {},
): Promise<ForeignKey[]> {
  const foreign = await client.query<{ tbl: string; name: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS tbl, c.conname AS name, pg_get_constraintdef(c.oid) AS def
       FROM pg_constraint c
       JOIN pg_class r ON r.oid = c.conrelid
       JOIN pg_class f ON f.oid = c.confrelid
      WHERE r.relnamespace = current_schema()::regnamespace AND ${TOUCHING_FOREIGN_KEYS}
        ${options.uncheckedOnly ? "AND NOT c.convalidated" : ""}
      ORDER BY r.relname, c.conname`,
    [tables],
  );
  return foreign.rows.map((c) => ({ table: c.tbl, name: c.name, drop: drop(c), addNotValid: `${add(c)} NOT VALID` }));
}

/**
 * The foreign keys to or from `tables` (current schema) not yet checked against every row (added
 * NOT VALID, and never validated: a cut-over stopped between its commit and the end of its checks).
 */
export async function uncheckedForeignKeys(client: pg.ClientBase, tables: readonly string[]): Promise<ForeignKey[]> {
  return captureForeignKeys(client, tables, { uncheckedOnly: true });
}

/**
 * Checks a foreign key added NOT VALID against every row. Outside the transaction that added it,
 * it takes only a lock that lets reads and writes go on.
 */
export async function validateForeignKey(client: pg.ClientBase, key: Pick<ForeignKey, "table" | "name">): Promise<void> {
  await client.query(`ALTER TABLE ${key.table} VALIDATE CONSTRAINT ${quoteIdent(key.name)}`);
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
