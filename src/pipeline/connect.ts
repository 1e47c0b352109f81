/** Opens PostgreSQL connections, turning driver failures into one-line errors that say what to fix. */
import pg from "pg";
import { applicationName, type RunKind } from "../config/application-name.ts";
import { describeConnection, toPgClientConfig } from "../config/connection.ts";
import type { PgConnectionSettings } from "../config/types.ts";
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

function explain(error: unknown): string {
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case "ECONNREFUSED":
      return "connection refused (is PostgreSQL running there?)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host name not found";
    case "ETIMEDOUT":
      return "connection timed out";
    case "28P01":
      return "password authentication failed";
    case "28000":
      // The same SQLSTATE covers an unknown role and a pg_hba.conf rejection.
      return /role .* does not exist/.test(e.message ?? "")
        ? "the role (user) does not exist"
        : "the server refused this user (pg_hba.conf)";
    case "3D000":
      return "the database does not exist";
    default:
      return (e.message ?? String(error)).split("\n")[0] as string;
  }
}

/** Connects, or throws a UserError naming the database, the reason, and the settings to check. */
export async function connect(target: ConnectTarget): Promise<pg.Client> {
  const client = new pg.Client({
    ...toPgClientConfig(target.settings, target.run ? applicationName(target.run, target.role) : "syn2mas"),
    connectionTimeoutMillis: 15_000,
  });
  // A dropped connection mid-run surfaces through the failing query; do not crash on the event.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new UserError(
      `cannot connect to the ${target.role} database ${describeConnection(target.settings)}: ${explain(error)}`,
      `check ${target.settingsSource}`,
      { cause: error },
    );
  }
  return client;
}
