/**
 * PostgreSQL driver errors in the operator's words: why connecting failed, what ended a connection.
 * Pure: the pipeline (src/pipeline/database-failure.ts) adds which database and what to do.
 */

export type DatabaseRole = "Synapse" | "MAS";

interface DriverError {
  code?: unknown;
  message?: unknown;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as DriverError | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(error: unknown): string {
  const message = (error as DriverError | undefined)?.message;
  return typeof message === "string" ? message : String(error);
}

/** Why connecting failed, and for some causes a fix more precise than "check the settings". */
export interface ConnectFailure {
  reason: string;
  fix?: string;
}

/**
 * Why a connection attempt to the `role` database failed. `passwordGiven` says whether any
 * password was configured (settings or PGPASSWORD): without one, a server that asks for it makes
 * the driver fail with a message about its own internals.
 */
export function connectFailure(error: unknown, role: DatabaseRole, passwordGiven: boolean): ConnectFailure {
  const message = messageOf(error);
  switch (codeOf(error)) {
    case "ECONNREFUSED":
      return { reason: "connection refused (is PostgreSQL running there?)" };
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { reason: "host name not found" };
    case "ETIMEDOUT":
      return { reason: "connection timed out" };
    case "28P01":
      return { reason: "password authentication failed" };
    case "28000":
      // The same SQLSTATE covers an unknown role and a pg_hba.conf rejection.
      return /role .* does not exist/.test(message)
        ? { reason: "the role (user) does not exist" }
        : { reason: "the server refused this user (pg_hba.conf)" };
    case "3D000":
      return role === "MAS"
        ? {
            reason: "the database does not exist",
            fix: "create it (e.g. createdb), then run `mas-cli database migrate` and `mas-cli config sync` to set it up, then run again",
          }
        : { reason: "the database does not exist" };
    case "57P03":
      return { reason: "the server is starting up or shutting down" };
    default:
      if (!passwordGiven && /password/i.test(message)) {
        return {
          reason: "the server asks for a password and none is given",
          fix: "set the password in the database settings (or PGPASSWORD, or ~/.pgpass), then run again",
        };
      }
      if (/does not support SSL/i.test(message)) return { reason: "the server does not accept TLS, which sslmode requires" };
      if (/certificate|self[- ]signed/i.test(message)) return { reason: "the server's TLS certificate could not be verified" };
      if (/timeout/i.test(message)) return { reason: "connection timed out" };
      if (/terminated|ECONNRESET/i.test(message) || codeOf(error) === "ECONNRESET") {
        return { reason: "the server closed the connection while it was being set up" };
      }
      return { reason: "the connection failed" };
  }
}

/** How a lost connection ended, when the error says the server or the network ended it. */
export type ConnectionLoss = "terminated" | "crashed" | "unavailable" | "broken";

/**
 * Whether `error` means the connection is gone, and how: undefined for every other error (those
 * are SQL errors on a live connection). 57P01 covers both pg_terminate_backend and a server
 * shutdown: the caller tells them apart by trying to connect again.
 */
export function connectionLoss(error: unknown): ConnectionLoss | undefined {
  const code = codeOf(error);
  if (code === "57P01") return "terminated";
  if (code === "57P02") return "crashed";
  if (code === "57P03") return "unavailable";
  if (code !== undefined && code.startsWith("08")) return "broken";
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT" || code === "ECONNREFUSED") return "broken";
  const message = messageOf(error);
  if (/^Connection terminated|not queryable|^Client was closed/.test(message)) return "broken";
  return undefined;
}

/** lock_not_available: a statement gave up waiting for a lock (lock_timeout). */
export function isLockTimeout(error: unknown): boolean {
  return codeOf(error) === "55P03";
}
