/** Who is connected to a scenario's databases, seen from the maintenance database (so the query is not one of them). */
import type { Cluster } from "./postgres.ts";

/** The application_name of each client session on `db` matching `where` (SQL over pg_stat_activity), sorted. */
export async function clientSessions(cluster: Cluster, db: string, where = "true"): Promise<string[]> {
  const rows = await cluster.sql<{ name: string }>(
    "postgres",
    `SELECT application_name AS name FROM pg_stat_activity
      WHERE datname = $1 AND backend_type = 'client backend' AND ${where} ORDER BY application_name`,
    [db],
  );
  return rows.map((r) => r.name);
}

/** Whether nobody is connected to any of `dbs`. */
export async function noClientSessions(cluster: Cluster, ...dbs: string[]): Promise<boolean> {
  for (const db of dbs) if ((await clientSessions(cluster, db)).length > 0) return false;
  return true;
}
