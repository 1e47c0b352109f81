/** Evaluates an SQL condition over a list of text values in a real engine: SQLite in memory, or a throwaway PostgreSQL. */
import { after, before } from "node:test";
import sqlite3 from "sqlite3";
import { startCluster, type Cluster } from "./postgres.ts";

/** A PostgreSQL cluster started before the suite's tests and stopped after them. */
export function useCluster(): () => Cluster {
  let cluster: Cluster | undefined;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error("the cluster has not started");
    return cluster;
  };
}

/** `condition(column)` for each value, in order: true, false, or null (SQL's unknown). */
export async function evaluateCondition(
  engine: "sqlite" | "postgres",
  condition: (column: string) => string,
  values: readonly (string | null)[],
  cluster: Cluster,
): Promise<(boolean | null)[]> {
  if (engine === "postgres") {
    const rows = await cluster.sql<{ ok: boolean | null }>(
      "postgres",
      `SELECT ${condition("v")} AS ok FROM unnest($1::text[]) WITH ORDINALITY AS h(v, i) ORDER BY i`,
      [values],
    );
    return rows.map((r) => r.ok);
  }
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(":memory:", (openError) => {
      if (openError) return reject(openError);
      const rows = values.map((_, i) => `(?, ${i})`).join(", ");
      db.all<{ ok: number | null }>(
        `WITH h(v, i) AS (VALUES ${rows}) SELECT ${condition("v")} AS ok FROM h ORDER BY i`,
        values,
        (error, result) =>
          db.close(() => (error ? reject(error) : resolve(result.map((r) => (r.ok === null ? null : r.ok === 1))))),
      );
    });
  });
}
