/** Several PostgreSQL connections reading one Synapse snapshot, so that independent check queries run in parallel. */
import type pg from "pg";
import type { CountSample, OtherSession, SnapshotReaders } from "../snapshot-readers.ts";
import { SnapshotPool } from "../snapshot-pool.ts";
import { POSTGRES_DIALECT } from "./dialect.ts";

class PostgresSnapshot implements SnapshotReaders {
  readonly dialect = POSTGRES_DIALECT;
  readonly extra: number;

  constructor(
    private readonly pool: SnapshotPool<pg.Client>,
    readonly pids: number[],
  ) {
    this.extra = pool.extra;
  }

  detachMain(): Promise<void> {
    return this.pool.detachMain();
  }

  async close(): Promise<void> {
    await Promise.all(this.pool.extras.map((c) => c.end().catch(() => undefined)));
  }

  async rows<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    const result = await this.pool.using((client) => client.query(sql, params as unknown[] | undefined));
    return result.rows as R[];
  }

  async presentColumns(tables: readonly string[]): Promise<Set<string>> {
    const rows = await this.rows<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ANY($1)`,
      [tables],
    );
    return new Set(rows.map((r) => `${r.table_name}.${r.column_name}`));
  }

  async tableExists(table: string): Promise<boolean> {
    const rows = await this.rows<{ ok: boolean }>("SELECT to_regclass($1) IS NOT NULL AS ok", [table]);
    return rows[0]?.ok === true;
  }

  async uniqueIndexes(table: string): Promise<string[][]> {
    const rows = await this.rows<{ i: string; c: string | null }>(
      `SELECT i.indexrelid::text AS i, a.attname AS c FROM pg_index i
           LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
          WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
            AND NOT (0 = ANY(i.indkey::int2[]))`,
      [table],
    );
    const byIndex = new Map<string, (string | null)[]>();
    for (const r of rows) byIndex.set(r.i, [...(byIndex.get(r.i) ?? []), r.c]);
    return [...byIndex.values()].filter((cols) => cols.every((c) => c !== null)) as string[][];
  }

  otherSessions(ownPids: readonly number[]): Promise<OtherSession[]> {
    return this.rows<OtherSession>(
      `SELECT coalesce(application_name, '') AS "applicationName",
            coalesce(nullif(application_name, ''), 'unnamed') || ' (' || coalesce(usename, '?') || ', pid ' || pid || ')' AS who
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT pid = ANY($1::int[])
        AND backend_type = 'client backend'
      ORDER BY pid`,
      [[...ownPids]],
    );
  }

  /** In SQL, with the dialect's test (the findings share it with other counts over the same scan instead, see findings-sql.ts). */
  async countUnparsableIps(from: string, where: string, serverName: string, limit: number): Promise<CountSample> {
    const rows = `FROM ${from} WHERE (${where}) AND ${this.dialect.unparsableIp("d.ip")}`;
    const counted = await this.rows<{ n: string }>(`SELECT count(*) AS n ${rows}`, [serverName]);
    const count = Number(counted[0]?.n ?? 0);
    if (count === 0) return { count, examples: [] };
    const examples = await this.rows<{ e: string }>(
      `SELECT DISTINCT d.device_id AS e ${rows} ORDER BY 1 LIMIT ${Math.max(0, Math.floor(limit))}`,
      [serverName],
    );
    return { count, examples: examples.map((r) => r.e) };
  }
}

/**
 * Exports the snapshot of `main` (already inside REPEATABLE READ) and opens `extra` more clients
 * on it with `connect`: every query sees exactly what `main` sees. With `extra` = 0, only `main`.
 */
export async function openPostgresSnapshot(
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
  const pids = await Promise.all(
    clients.map(async (c) => (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number),
  );
  return new PostgresSnapshot(new SnapshotPool(main, clients.slice(1)), pids);
}
