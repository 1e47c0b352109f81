/** Opens PostgreSQL connections, turning driver failures into one-line errors that say what to fix. */
import pg from "pg";
import { applicationName, type RunKind } from "../config/application-name.ts";
import { describeConnection, toPgClientConfig } from "../config/connection.ts";
import type { PgConnectionSettings } from "../config/types.ts";
import { connectFailure } from "../errors/database-errors.ts";
import { UserError } from "../errors/user-error.ts";

/** Which database, and where its settings come from (for the hint). */
export interface ConnectTarget {
  role: "Synapse" | "MAS";
  settings: PgConnectionSettings;
  /** E.g. "database.args in homeserver.yaml, or --synapse-database-uri". */
  settingsSource: string;
  /** The run the connection serves, named in its application_name (plain `syn2mas` when unset). */
  run?: RunKind;
}

/** A connection of this process that the server or the network ended, and the error that said so. */
export interface LostConnection {
  target: ConnectTarget;
  error: unknown;
}

/** Connections that ended without being asked to, in the order they did (see {@link lostConnections}). */
const lost = new Map<pg.Client, LostConnection>();

/**
 * The connections of this process that were lost (terminated, server shut down, network), first
 * lost first: what src/pipeline/database-failure.ts uses to name the database behind a failure.
 */
export function lostConnections(): LostConnection[] {
  return [...lost.values()];
}

function passwordGiven(settings: PgConnectionSettings): boolean {
  return settings.password !== undefined || (process.env.PGPASSWORD ?? "") !== "";
}

/** A client for `target`, not yet connected, named for its run (see application-name.ts). */
export function newClient(target: ConnectTarget, connectionTimeoutMillis: number): pg.Client {
  const name = target.run ? applicationName(target.run, target.role) : "syn2mas";
  return new pg.Client({ ...toPgClientConfig(target.settings, name), connectionTimeoutMillis });
}

/** Connects, or throws a UserError naming the database, the reason, and the settings to check. */
export async function connect(target: ConnectTarget): Promise<pg.Client> {
  const client = newClient(target, 15_000);
  // A dropped connection mid-run also fails the running query; the event says which connection it was.
  client.on("error", (error) => {
    if (!lost.has(client)) lost.set(client, { target, error });
  });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    lost.delete(client);
    const failure = connectFailure(error, target.role, passwordGiven(target.settings));
    throw new UserError(
      `cannot connect to the ${target.role} database ${describeConnection(target.settings)}: ${failure.reason}`,
      failure.fix ?? `check ${target.settingsSource}`,
      { cause: error },
    );
  }
  return client;
}
