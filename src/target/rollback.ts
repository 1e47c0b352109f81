/**
 * Undoing a migration in MAS, inside the caller's transaction. The migration wrote into MAS's
 * tables only while they were empty (MAS_NOT_EMPTY, ALREADY_MIGRATED), so every row of them goes;
 * so do the rows of MAS's other tables that reference those rows, found through the foreign keys
 * of MAS's own schema (whatever its version: nothing here names a table MAS may add or drop), and
 * the migration's record with the schema the migration created for it.
 */
import type pg from "pg";
import { UserError } from "../errors/user-error.ts";
import { captureReferencesInto, runAll } from "./constraints.ts";
import { RECORD_SCHEMA } from "./migration-record.ts";
import { TABLE_ORDER } from "./tables.ts";
import type { TxClient } from "./transaction.ts";

/** A foreign key of MAS's schema: `table(columns)` references `references(referencedColumns)`. */
export interface ForeignKey {
  table: string;
  columns: string[];
  references: string;
  referencedColumns: string[];
  /**
   * Whether PostgreSQL itself acts on the referencing rows when a referenced row is deleted
   * (ON DELETE CASCADE, SET NULL, SET DEFAULT): then deleting the referenced rows first is allowed.
   */
  actsOnDelete: boolean;
}

/** The tables that reference `roots`, directly or through other tables, `roots` excluded; in name order. */
export function referencingTables(roots: readonly string[], keys: readonly ForeignKey[]): string[] {
  const reached = new Set(roots);
  const found: string[] = [];
  for (let grew = true; grew;) {
    grew = false;
    for (const key of keys) {
      if (reached.has(key.references) && !reached.has(key.table)) {
        reached.add(key.table);
        found.push(key.table);
        grew = true;
      }
    }
  }
  return found.sort();
}

/**
 * An order in which `tables` can be emptied of the rows to delete: each table after every other
 * one whose rows reference it, except through a key PostgreSQL acts on by itself (which may
 * also break a cycle); ties in name order. Throws when a cycle of plain keys leaves no order.
 */
export function deletionOrder(tables: readonly string[], keys: readonly ForeignKey[]): string[] {
  const pending = new Set(tables);
  const blocking = keys.filter((k) => !k.actsOnDelete && k.table !== k.references && pending.has(k.table));
  const order: string[] = [];
  while (pending.size > 0) {
    const free = [...pending].filter((t) => !blocking.some((k) => k.references === t && pending.has(k.table))).sort();
    const next = free[0];
    if (next === undefined) {
      throw new UserError(
        `MAS's schema has a cycle of foreign keys between ${[...pending].sort().join(", ")} that leaves no order to delete them in`,
        "restore MAS's database from the backup taken before the migration instead (and report this MAS version to syn2mas's maintainers)",
      );
    }
    order.push(next);
    pending.delete(next);
  }
  return order;
}

/** A name as an SQL identifier. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The foreign keys between tables of MAS's schema (the current schema). */
async function readForeignKeys(client: pg.ClientBase): Promise<ForeignKey[]> {
  const columnsOf = (key: string, table: string) =>
    `ARRAY(SELECT a.attname::text FROM unnest(k.${key}) WITH ORDINALITY AS u(attnum, i)
             JOIN pg_attribute a ON a.attrelid = k.${table} AND a.attnum = u.attnum ORDER BY u.i)`;
  const result = await client.query<{
    table: string;
    references: string;
    columns: string[];
    referenced_columns: string[];
    on_delete: string;
  }>(
    `SELECT c.relname::text AS table, r.relname::text AS references, k.confdeltype::text AS on_delete,
            ${columnsOf("conkey", "conrelid")} AS columns, ${columnsOf("confkey", "confrelid")} AS referenced_columns
       FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_class r ON r.oid = k.confrelid
      WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace AND r.relnamespace = c.relnamespace
      ORDER BY c.relname, k.conname`,
  );
  return result.rows.map((r) => ({
    table: r.table,
    columns: r.columns,
    references: r.references,
    referencedColumns: r.referenced_columns,
    // 'a' NO ACTION and 'r' RESTRICT refuse to delete a referenced row; 'c', 'n', 'd' act on the referencing ones.
    actsOnDelete: !["a", "r"].includes(r.on_delete),
  }));
}

/** The primary key columns of each of `tables` that has one. */
async function primaryKeys(client: pg.ClientBase, tables: readonly string[]): Promise<Map<string, string[]>> {
  const result = await client.query<{ table: string; columns: string[] }>(
    `SELECT c.relname::text AS table,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum ORDER BY u.n) AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
      WHERE i.indisprimary AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)`,
    [tables],
  );
  return new Map(result.rows.map((r) => [r.table, r.columns]));
}

/** What a rollback removes: per table, in the order it is deleted. */
export interface RollbackPlan {
  /** Every table with rows to delete, and how many: the migration's tables, then the others in deletion order (tables without rows left out). */
  rows: { table: string; count: number }[];
  /** Rows of each table the migration writes (all of theirs), zero included. */
  migrationTables: Record<string, number>;
  /** Rows of MAS's other tables that reference them (only activity puts rows there), tables with none left out. */
  referencingRows: Record<string, number>;
}

/** The temporary table holding the keys of `table`'s rows to delete. */
function doomedTable(index: number): string {
  return `pg_temp.syn2mas_rollback_${index}`;
}

/**
 * Locks the tables a rollback deletes from against writes, then works out, inside the transaction,
 * which rows it deletes: all rows of the tables the migration writes, and, repeated until nothing
 * is added, every row of another table that references a row to delete. The keys of those rows go
 * into temporary tables (dropped at the end of the transaction), so that the deletion removes
 * exactly what was counted.
 */
export async function planRollback(tx: TxClient): Promise<RollbackPlan & { delete: () => Promise<void> }> {
  const keys = await readForeignKeys(tx);
  const migrationTables = [...TABLE_ORDER] as string[];
  const referencing = referencingTables(migrationTables, keys);
  // Nobody else writes these tables until the transaction ends (reads go on): what is counted
  // and judged here, activity included, is exactly what is deleted.
  await tx.query(`LOCK TABLE ${[...migrationTables, ...referencing].map(ident).join(", ")} IN EXCLUSIVE MODE`);
  // The migration's tables are emptied first, at once; then the other tables' rows, in an order their keys allow.
  const order = deletionOrder(referencing, keys);
  const pks = await primaryKeys(tx, referencing);
  const doomed = new Map<string, { temp: string; pk: string[] }>();
  for (const [index, table] of referencing.entries()) {
    const pk = pks.get(table);
    if (pk === undefined || pk.length === 0) {
      throw new UserError(
        `MAS's table ${table} references the migrated rows but has no primary key, so the rows to delete cannot be told apart`,
        "restore MAS's database from the backup taken before the migration instead (and report this MAS version to syn2mas's maintainers)",
      );
    }
    const temp = doomedTable(index);
    await tx.query(
      `CREATE TEMPORARY TABLE ${temp} ON COMMIT DROP AS SELECT ${pk.map(ident).join(", ")} FROM ${ident(table)} WITH NO DATA`,
    );
    doomed.set(table, { temp, pk });
  }
  const edges = keys.filter((k) => doomed.has(k.table) && (doomed.has(k.references) || migrationTables.includes(k.references)));
  // A row referencing a row to delete is deleted too; the rows added may be referenced in turn.
  for (let added = edges.length > 0; added;) {
    added = false;
    for (const key of edges) {
      const child = doomed.get(key.table) as { temp: string; pk: string[] };
      const parent = doomed.get(key.references);
      const references = parent
        ? `EXISTS (SELECT 1 FROM ${ident(key.references)} p JOIN ${parent.temp} d ON ${parent.pk.map((c) => `d.${ident(c)} = p.${ident(c)}`).join(" AND ")}
                    WHERE ${key.columns.map((c, i) => `p.${ident(key.referencedColumns[i] as string)} = c.${ident(c)}`).join(" AND ")})`
        : // Every row of the migration's tables goes: a key pointing there (not NULL) points at a row to delete.
          key.columns.map((c) => `c.${ident(c)} IS NOT NULL`).join(" AND ");
      const inserted = await tx.query(
        `INSERT INTO ${child.temp} SELECT ${child.pk.map((c) => `c.${ident(c)}`).join(", ")} FROM ${ident(key.table)} c
          WHERE ${references}
            AND NOT EXISTS (SELECT 1 FROM ${child.temp} d WHERE ${child.pk.map((c) => `d.${ident(c)} = c.${ident(c)}`).join(" AND ")})`,
      );
      if ((inserted.rowCount ?? 0) > 0) added = true;
    }
  }
  const counts = new Map<string, number>();
  for (const table of [...migrationTables, ...order]) {
    const from = doomed.get(table)?.temp ?? ident(table);
    const counted = await tx.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${from}`);
    counts.set(table, Number(counted.rows[0]?.n ?? 0));
  }
  const countOf = (t: string) => counts.get(t) ?? 0;
  return {
    rows: [...migrationTables, ...order].filter((t) => countOf(t) > 0).map((t) => ({ table: t, count: countOf(t) })),
    migrationTables: Object.fromEntries(migrationTables.map((t) => [t, countOf(t)])),
    referencingRows: Object.fromEntries(referencing.filter((t) => countOf(t) > 0).map((t) => [t, countOf(t)])),
    delete: async () => {
      // Without the keys pointing into them, the migration's tables are truncated together (a
      // DELETE would run every key's trigger once per row); the keys are checked again once the
      // rows that referenced them are gone too.
      const references = await captureReferencesInto(tx, migrationTables);
      await runAll(tx, references.drops);
      await tx.query(`TRUNCATE ${migrationTables.map(ident).join(", ")}`);
      for (const table of order) {
        const rows = doomed.get(table) as { temp: string; pk: string[] };
        if (countOf(table) === 0) continue;
        await tx.query(
          `DELETE FROM ${ident(table)} t USING ${rows.temp} d WHERE ${rows.pk.map((c) => `d.${ident(c)} = t.${ident(c)}`).join(" AND ")}`,
        );
      }
      await runAll(tx, references.rebuilds);
    },
  };
}

/** What became of the migration's record. */
export interface RecordRemoval {
  /** Records deleted (one per migration; every one describes rows that are gone now). */
  records: number;
  /** Whether the schema the migration created for its record was dropped (it held nothing else). */
  schemaDropped: boolean;
}

/**
 * Deletes the migration records, then drops their table and, when nothing else is in it, the
 * schema: a MAS that was never migrated has neither, and a later migration creates them again.
 */
export async function removeMigrationRecord(tx: TxClient): Promise<RecordRemoval> {
  const deleted = await tx.query(`DELETE FROM ${RECORD_SCHEMA}.migrations`);
  await tx.query(`DROP TABLE ${RECORD_SCHEMA}.migrations`);
  // Without CASCADE: PostgreSQL refuses to drop a schema that holds anything else, and that is kept.
  await tx.query("SAVEPOINT syn2mas_record_schema");
  try {
    await tx.query(`DROP SCHEMA ${RECORD_SCHEMA}`);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "2BP01") throw error;
    await tx.query("ROLLBACK TO SAVEPOINT syn2mas_record_schema");
    return { records: deleted.rowCount ?? 0, schemaDropped: false };
  }
  await tx.query("RELEASE SAVEPOINT syn2mas_record_schema");
  return { records: deleted.rowCount ?? 0, schemaDropped: true };
}
