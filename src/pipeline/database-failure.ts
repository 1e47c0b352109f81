/**
 * The one place where a database failure during a run becomes the operator's one line: which
 * database (Synapse or MAS), what happened, that nothing was written, and what to do. Errors that
 * are not about a connection or a lock pass through unchanged (they are bugs, reported as such).
 */
import type pg from "pg";
import { describeConnection } from "../config/connection.ts";
import { connectionLoss, isLockTimeout, type ConnectionLoss } from "../errors/database-errors.ts";
import { UserError } from "../errors/user-error.ts";
import { lostConnections, newClient, type ConnectTarget, type LostConnection } from "./connect.ts";

/** Said of every failure this module explains: MAS is written in one transaction, Synapse only read. */
const NOTHING_WRITTEN = "nothing was written (MAS's transaction was rolled back; Synapse is only read)";

/** How long to wait for the connection that failed to report itself, after its query failed. */
const REPORT_WAIT_MS = 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A short-lived client of its own for looking after a failure, named as the run's other connections are. */
function followUpClient(target: ConnectTarget): pg.Client {
  const client = newClient(target, 5000);
  client.on("error", () => undefined);
  return client;
}

/** A follow-up connection (see {@link followUpClient}); undefined when none can be made. */
async function tryConnect(target: ConnectTarget): Promise<pg.Client | undefined> {
  const client = followUpClient(target);
  try {
    await client.connect();
    return client;
  } catch {
    await client.end().catch(() => undefined);
    return undefined;
  }
}

/**
 * Whether the database server answers a new connection: what tells a session ended by an
 * administrator from a server that shut down (both end sessions with 57P01). A server that
 * answers but refuses (a dropped database, a changed password) is up.
 */
async function serverUp(target: ConnectTarget): Promise<boolean> {
  const client = followUpClient(target);
  try {
    await client.connect();
    return true;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return !(code === "57P03" || code === "ECONNREFUSED" || code === "ENOENT" || connectionLoss(error) !== undefined);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The connections lost so far; when none reported yet (the failing query's error comes before the
 * socket's end), waits briefly for them to.
 */
async function lostSoFar(): Promise<LostConnection[]> {
  const deadline = Date.now() + REPORT_WAIT_MS;
  while (lostConnections().length === 0 && Date.now() < deadline) await sleep(20);
  return lostConnections();
}

function describeTargets(targets: ConnectTarget[]): string {
  const named = targets.map((t) => `the ${t.role} database ${describeConnection(t.settings)}`);
  return named.length === 1 ? `the connection to ${named[0]}` : `the connections to ${named.join(" and ")}`;
}

/** What happened to a lost connection, and what to do, once a new connection was tried. */
function lossWords(loss: ConnectionLoss, serverUp: boolean): { what: string; fix: string } {
  if (!serverUp) {
    return {
      what: loss === "crashed" ? "the database server crashed" : "the database server shut down",
      fix: "start the database server again, then run again",
    };
  }
  switch (loss) {
    case "terminated":
      return {
        what: "the server ended the tool's session (an administrator, pg_terminate_backend, or a restart)",
        fix: "make sure nothing ends the tool's sessions while it runs (administrators, session timeouts, poolers), then run again",
      };
    case "crashed":
      return {
        what: "the database server crashed and restarted",
        fix: "see the server's log for why it crashed, then run again",
      };
    case "unavailable":
      return { what: "the database server was restarting", fix: "run again once the server is up" };
    case "broken":
      return {
        what: "the connection broke (network or server)",
        fix: "make sure the connection to the database server is stable (network, proxies, timeouts), then run again",
      };
  }
}

async function connectionFailure(error: unknown, loss: ConnectionLoss, setup: Targets): Promise<UserError> {
  const losses = await lostSoFar();
  const targets = [...new Map(losses.map((l) => [l.target.role, l.target])).values()];
  // A query in flight gets the server's reason (e.g. 57P01), the connection's event only "terminated
  // unexpectedly"; an idle connection's event has the reason, and later queries "not queryable".
  const named = [error, ...losses.map((l) => l.error)].map(connectionLoss).find((l) => l !== undefined && l !== "broken");
  const cause = named ?? loss;
  const { what, fix } = lossWords(cause, await serverUp(targets[0] ?? setup.masTarget));
  const lostWhat = targets.length > 0 ? describeTargets(targets) : "a database connection";
  return new UserError(`lost ${lostWhat}: ${what}; ${NOTHING_WRITTEN}`, fix, { cause: error });
}

interface LockHolder {
  pid: number;
  application: string;
  relname: string;
}

/** Other sessions holding locks on tables of the MAS database, looked up from a new connection. */
async function lockHolders(masTarget: ConnectTarget): Promise<LockHolder[]> {
  const client = await tryConnect(masTarget);
  if (client === undefined) return [];
  try {
    const result = await client.query<LockHolder>(
      `SELECT DISTINCT a.pid, coalesce(nullif(a.application_name, ''), 'unnamed') AS application, c.relname
         FROM pg_locks l
         JOIN pg_stat_activity a ON a.pid = l.pid
         JOIN pg_class c ON c.oid = l.relation
        WHERE l.locktype = 'relation' AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND c.relkind IN ('r', 'p') AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
          AND a.pid <> pg_backend_pid()
        ORDER BY a.pid, c.relname
        LIMIT 20`,
    );
    return result.rows;
  } catch {
    return [];
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function lockFailure(error: unknown, masTarget: ConnectTarget): Promise<UserError> {
  const holders = await lockHolders(masTarget);
  const where = `the MAS database ${describeConnection(masTarget.settings)}`;
  const fix = "stop MAS (and anything else using its database) first, then run again";
  if (holders.length === 0) {
    return new UserError(
      `a table of ${where} was locked by another session for longer than the tool waits; ${NOTHING_WRITTEN}`,
      fix,
      { cause: error },
    );
  }
  const sessions = new Map<number, LockHolder[]>();
  for (const h of holders) sessions.set(h.pid, [...(sessions.get(h.pid) ?? []), h]);
  const named = [...sessions.entries()]
    .map(([pid, held]) => `pid ${pid}, application "${held[0]?.application}", holding ${held.map((h) => h.relname).join(", ")}`)
    .join("; ");
  return new UserError(
    `the MAS tables are in use by ${sessions.size === 1 ? "another session" : "other sessions"} (${named}) in ${where}: the tool gave up waiting for its lock; ${NOTHING_WRITTEN}`,
    fix,
    { cause: error },
  );
}

interface Targets {
  masTarget: ConnectTarget;
}

/**
 * `error` as the operator's one line when it is a lost connection or a lock held by another
 * session; any other error unchanged. Call after the run's connections are closed.
 */
export async function explainDatabaseFailure(error: unknown, setup: Targets): Promise<unknown> {
  if (error instanceof UserError) return error;
  if (isLockTimeout(error)) return lockFailure(error, setup.masTarget);
  const loss = connectionLoss(error) ?? (lostConnections().length > 0 ? connectionLoss(lostConnections()[0]?.error) : undefined);
  if (loss === undefined) return error;
  return connectionFailure(error, loss, setup);
}
