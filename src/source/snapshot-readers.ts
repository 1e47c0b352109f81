/** Several connections reading one Synapse snapshot, so that independent check queries run in parallel. */
import type pg from "pg";

/** What the Synapse-side SQL helpers need: one parameterised query at a time, per call. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** A Queryable over several clients in the same snapshot; each query goes to an idle client. */
export interface SnapshotReaders extends Queryable {
  /** Backend pids of every client, so that checks can tell them from other sessions. */
  readonly pids: number[];
  /** How many clients there are besides the main one. */
  readonly extra: number;
  /**
   * Takes the main client out of the pool (once it is idle), so that its owner can stream from it
   * while queries still queued here run on the extra clients only. Needs `extra` > 0.
   */
  detachMain(): Promise<void>;
  /** Ends the extra clients' transactions and closes them (the main client stays open). */
  close(): Promise<void>;
}

/**
 * Exports the snapshot of `main` (already inside REPEATABLE READ) and opens `extra` more clients
 * on it with `connect`: every query sees exactly what `main` sees. With `extra` = 0, only `main`.
 */
export async function shareSnapshot(
  main: pg.Client,
  connect: () => Promise<pg.Client>,
  extra: number,
): Promise<SnapshotReaders> {
  const clients: pg.Client[] = [main];
  try {
    if (extra > 0) {
      const exported = await main.query<{ id: string }>("SELECT pg_export_snapshot() AS id");
      const id = exported.rows[0]?.id as string;
      for (let i = 0; i < extra; i++) {
        const client = await connect();
        clients.push(client);
        await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        await client.query(`SET TRANSACTION SNAPSHOT '${id.replace(/'/g, "")}'`);
        await client.query("SET LOCAL jit = off");
      }
    }
  } catch (error) {
    await Promise.all(clients.slice(1).map((c) => c.end().catch(() => undefined)));
    throw error;
  }
  const pids = await Promise.all(clients.map(async (c) => (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number));
  const idle = [...clients];
  const waiting: ((client: pg.Client) => void)[] = [];
  const acquire = (): Promise<pg.Client> =>
    idle.length > 0 ? Promise.resolve(idle.pop() as pg.Client) : new Promise((resolve) => waiting.push(resolve));
  let onMainReleased: (() => void) | undefined;
  const release = (client: pg.Client): void => {
    if (client === main && onMainReleased !== undefined) {
      const detached = onMainReleased;
      onMainReleased = undefined;
      detached();
      return;
    }
    const next = waiting.shift();
    if (next) next(client);
    else idle.push(client);
  };
  return {
    pids,
    extra: clients.length - 1,
    detachMain(): Promise<void> {
      if (clients.length === 1) return Promise.reject(new Error("detachMain needs extra clients"));
      const index = idle.indexOf(main);
      if (index >= 0) {
        idle.splice(index, 1);
        return Promise.resolve();
      }
      return new Promise((resolve) => (onMainReleased = resolve));
    },
    async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
      const client = await acquire();
      try {
        return await client.query<R>(text, values);
      } finally {
        release(client);
      }
    },
    async close(): Promise<void> {
      await Promise.all(clients.slice(1).map((c) => c.end().catch(() => undefined)));
    },
  };
}
