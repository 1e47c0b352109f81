/**
 * The synthetic Synapse as a SQLite file: Synapse's own SQLite schema for the tables this tool
 * reads (taken from the fixture), filled in one transaction with the very rows of the PostgreSQL
 * synthetic database (so both sources hold the same data, row for row), stored as Synapse stores
 * them on SQLite (booleans as 0/1), in WAL mode and closed cleanly, as a stopped Synapse leaves it.
 */
import pg from "pg";
import sqlite3 from "sqlite3";
import type { Database } from "sqlite3";
import type { Cluster } from "../test/harness/postgres.ts";
import { SYNAPSE_SQLITE_TABLES, synapseSqliteSchema } from "../test/harness/sqlite.ts";

/** Rows per INSERT (one JSON array bound as a single parameter). */
const BATCH_ROWS = 5000;

function run(db: Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (error) => (error ? reject(error) : resolve())));
}

function all<R>(db: Database, sql: string): Promise<R[]> {
  return new Promise((resolve, reject) => db.all<R>(sql, (error, rows) => (error ? reject(error) : resolve(rows))));
}

/** A boolean as Python's sqlite3 module stores it; everything else as it is (bigints arrive as text and get INTEGER affinity). */
function sqliteValue(value: unknown): unknown {
  return typeof value === "boolean" ? (value ? 1 : 0) : value;
}

/** Copies Synapse's tables from the PostgreSQL database `source` into a new SQLite file at `path`. */
export async function sqliteCopyOf(cluster: Cluster, source: string, path: string): Promise<void> {
  const schema = await synapseSqliteSchema();
  const db = await new Promise<Database>((resolve, reject) => {
    const opened = new sqlite3.Database(path, (error) => (error ? reject(error) : resolve(opened)));
  });
  const pgClient = new pg.Client({ connectionString: cluster.uri(source) });
  await pgClient.connect();
  try {
    await new Promise<void>((resolve, reject) =>
      db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; ${schema} BEGIN;`, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    for (const table of SYNAPSE_SQLITE_TABLES) {
      const columns = (await all<{ name: string }>(db, `SELECT name FROM pragma_table_info('${table}')`)).map((c) => c.name);
      const rows = (await pgClient.query({ text: `SELECT ${columns.join(", ")} FROM ${table}`, rowMode: "array" }))
        .rows as unknown[][];
      const picks = columns.map((_, i) => `json_extract(value, '$[${i}]')`).join(", ");
      for (let i = 0; i < rows.length; i += BATCH_ROWS) {
        const batch = rows.slice(i, i + BATCH_ROWS).map((row) => row.map(sqliteValue));
        await run(db, `INSERT INTO ${table} (${columns.join(", ")}) SELECT ${picks} FROM json_each(?)`, [JSON.stringify(batch)]);
      }
    }
    // No ANALYZE: Synapse does not run it on SQLite either, so the planner has no statistics.
    await run(db, "COMMIT");
  } finally {
    await pgClient.end();
    // The last connection to close checkpoints the WAL and removes -wal and -shm.
    await new Promise<void>((resolve, reject) => db.close((error) => (error ? reject(error) : resolve())));
  }
}
