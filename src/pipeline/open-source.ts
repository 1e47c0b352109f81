/**
 * The Synapse side of a run, whichever database Synapse uses: PostgreSQL (connections sharing one
 * REPEATABLE READ snapshot) or SQLite (read-only connections to the file, each in a read
 * transaction; more than one only when the file is read `immutable`, see source/sqlite/source.ts). Either
 * way the run gets a source and check readers in the same snapshot; everything after that (checks,
 * mapping, target, report) is the same code.
 */
import { resolve } from "node:path";
import type pg from "pg";
import { UserError } from "../errors/user-error.ts";
import { openPostgresSource } from "../source/postgres/source.ts";
import type { SnapshotReaders } from "../source/snapshot-readers.ts";
import type { SynapseSource } from "../source/source.ts";
import { openSqliteSynapse, type SqliteSynapse } from "../source/sqlite/source.ts";
import { SqliteFileProblem } from "../source/sqlite/files.ts";
import { connect } from "./connect.ts";
import { openSnapshotReaders, withConnections, type RunSetup } from "./connections.ts";
import { explainDatabaseFailure } from "./database-failure.ts";

/** An open Synapse database, not yet read. */
export interface SynapseSide {
  /** Starts the read-only snapshot and returns a source reading it. Call once, first. */
  openSource(): Promise<SynapseSource>;
  /** Readers for the checks, in the source's snapshot; the caller closes them. */
  openReaders(): Promise<SnapshotReaders>;
}

type Setup = Pick<RunSetup, "synapse" | "synapseTarget" | "masTarget" | "extraSynapseConnections">;

/** Where the SQLite database is: the configured path, relative paths taken from the current directory. */
export function sqliteDatabasePath(setup: Pick<RunSetup, "synapse">): string | undefined {
  const path = setup.synapse.sqlitePath;
  return path === undefined ? undefined : resolve(path);
}

async function openSqlite(setup: Setup): Promise<SqliteSynapse> {
  const path = sqliteDatabasePath(setup) as string;
  try {
    return await openSqliteSynapse(path, { extraConnections: setup.extraSynapseConnections });
  } catch (error) {
    throw asUserError(error, setup);
  }
}

function sqliteSide(sqlite: SqliteSynapse): SynapseSide {
  return {
    openSource: async () => sqlite.source,
    openReaders: async () => sqlite.readers,
  };
}

function postgresSide(setup: Setup, synapseDb: pg.Client): SynapseSide {
  return {
    openSource: () => openPostgresSource(synapseDb),
    openReaders: () => openSnapshotReaders(setup, synapseDb),
  };
}

/** A SQLite file problem (unreadable, or changed while read) as a UserError naming the setting to check. */
function asUserError(error: unknown, setup: Pick<RunSetup, "synapseTarget">): unknown {
  if (!(error instanceof SqliteFileProblem)) return error;
  return new UserError(
    `Synapse's SQLite database: ${error.message}`,
    `${error.hint} (the file is set in ${setup.synapseTarget.settingsSource})`,
    {
      cause: error,
    },
  );
}

/**
 * Opens Synapse's database (as its configuration says: psycopg2 or sqlite3) and MAS's, runs
 * `work`, and always closes both. SQLite is opened before MAS is connected to, as PostgreSQL is.
 */
export async function withSynapseAndMas<T>(
  setup: Setup,
  work: (synapse: SynapseSide, masDb: pg.Client) => Promise<T>,
): Promise<T> {
  if (setup.synapse.databaseEngine !== "sqlite3") {
    return withConnections(setup, (synapseDb, masDb) => work(postgresSide(setup, synapseDb), masDb));
  }
  const sqlite = await openSqlite(setup);
  try {
    const masDb = await connect(setup.masTarget);
    try {
      return await work(sqliteSide(sqlite), masDb);
    } catch (error) {
      throw asUserError(error, setup);
    } finally {
      await masDb.end().catch(() => undefined);
    }
  } catch (error) {
    throw await explainDatabaseFailure(error, setup);
  } finally {
    await sqlite.close();
  }
}
