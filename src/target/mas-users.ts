/** Questions about MAS's users for `status`: how many are dated before a moment. */
import type pg from "pg";

/** MAS users whose created_at is at or before `at` (the migration writes Synapse's creation times, all before its commit). */
export async function countUsersCreatedBy(client: pg.ClientBase, at: Date): Promise<number> {
  const result = await client.query<{ n: string }>("SELECT count(*)::bigint AS n FROM users WHERE created_at <= $1", [at]);
  return Number(result.rows[0]?.n ?? 0);
}
