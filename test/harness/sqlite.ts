/** SQLite Synapse databases for tests: configurations pointing at them, byte-for-byte snapshots, reads that touch nothing. */

import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import sqlite3 from "sqlite3";
import { synapseHomeserverSqliteYaml, synapseSqliteDb } from "./fixtures.ts";
import type { Cluster } from "./postgres.ts";
import { prepareScenario, type Scenario, type ScenarioOptions } from "./scenario.ts";
import { writeSynapseConfig, type ConfigOverrides } from "./temp-config.ts";

/**
 * Writes `dir/homeserver-sqlite.yaml`: the fixture's SQLite configuration with `database.args.database`
 * set to `dbPath` and `overrides` applied. Returns its path.
 */
export function writeSqliteSynapseConfig(dir: string, dbPath: string, overrides: ConfigOverrides = {}): Promise<string> {
  return writeSynapseConfig(dir, {
    source: synapseHomeserverSqliteYaml,
    fileName: "homeserver-sqlite.yaml",
    overrides: { database: { name: "sqlite3", args: { database: dbPath } }, ...overrides },
  });
}

/**
 * A scenario whose Synapse is the SQLite file `dbPath` (read where it is) and whose MAS is a fresh
 * database of the cluster, as {@link prepareScenario} makes it; `configArgs` name the SQLite configuration.
 */
export async function prepareSqliteScenario(
  cluster: Cluster,
  name: string,
  dbPath: string,
  options: ScenarioOptions = {},
): Promise<Scenario> {
  const s = await prepareScenario(cluster, name, options);
  const synapseConfig = await writeSqliteSynapseConfig(s.dir, dbPath, options.synapseOverrides);
  return { ...s, synapseConfig, configArgs: ["--config", s.masConfig, "--synapse-config", synapseConfig] };
}

/** What is on disk around a database: the names in its directory and the sha256 of it and its -wal, -shm and -journal. */
export interface FilesSnapshot {
  directory: string[];
  sha256: Record<string, string | null>;
}

export function snapshotFiles(dbPath: string): FilesSnapshot {
  const sha256: Record<string, string | null> = {};
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    const file = `${dbPath}${suffix}`;
    sha256[basename(file)] = existsSync(file) ? createHash("sha256").update(readFileSync(file)).digest("hex") : null;
  }
  return { directory: readdirSync(dirname(dbPath)).sort(), sha256 };
}

/**
 * Runs one query on `dbPath` opened `immutable=1`: no lock, no -wal or -shm read, created or
 * changed, so that the test itself never looks like another process using the database.
 */
export function readSqlite<R = Record<string, unknown>>(dbPath: string, sql: string, params: unknown[] = []): Promise<R[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(`file:${dbPath}?immutable=1`, sqlite3.OPEN_READONLY | sqlite3.OPEN_URI, (openError) => {
      if (openError) {
        reject(openError);
        return;
      }
      db.all<R>(sql, params, (error, rows) => db.close(() => (error ? reject(error) : resolve(rows))));
    });
  });
}

/** Runs SQL read-write on a database of the test's own (never a fixture), then closes it cleanly. */
export function writeSqlite(dbPath: string, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(dbPath, (openError) => {
      if (openError) {
        reject(openError);
        return;
      }
      db.exec(sql, (error) => db.close((closeError) => ((error ?? closeError) ? reject(error ?? closeError) : resolve())));
    });
  });
}

/** Copies the SQLite fixture's main file alone (its -wal is empty, so that is all of it) to `dir`. */
export function copySqliteFixture(source: string, dir: string): string {
  if (existsSync(`${source}-wal`) && readFileSync(`${source}-wal`).length > 0) throw new Error(`${source}-wal is not empty`);
  const target = join(dir, basename(source));
  copyFileSync(source, target);
  return target;
}

/** The Synapse tables this tool reads, plus background_updates. */
export const SYNAPSE_SQLITE_TABLES = [
  "users",
  "user_threepids",
  "user_external_ids",
  "devices",
  "access_tokens",
  "refresh_tokens",
  "background_updates",
] as const;

/**
 * The DDL of `tables` and of their indexes as Synapse 1.160 created them on SQLite, taken from the
 * fixture file (read `immutable`), so that a synthetic database has Synapse's exact schema.
 */
export async function synapseSqliteSchema(tables: readonly string[] = SYNAPSE_SQLITE_TABLES): Promise<string> {
  const rows = await readSqlite<{ sql: string }>(
    synapseSqliteDb,
    `SELECT sql FROM sqlite_master WHERE tbl_name IN (${tables.map(() => "?").join(", ")}) AND sql IS NOT NULL
      ORDER BY type = 'index', rowid`,
    [...tables],
  );
  return rows.map((r) => `${r.sql};`).join("\n");
}
