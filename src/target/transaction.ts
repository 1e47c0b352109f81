/** The only way to get a client that writes to MAS: inside one transaction, committed or rolled back whole. */
import type pg from "pg";

/** A MAS connection inside an open transaction. Only {@link withTransaction} makes one. */
export type TxClient = pg.Client & { readonly __brand: "TxClient" };

/**
 * Runs `work` inside BEGIN ... COMMIT on `client`, or ROLLBACK when `work` throws or `commit`
 * returns false (the dry run). A killed process leaves nothing behind: PostgreSQL aborts the
 * open transaction when the connection drops.
 */
export async function withTransaction<T>(
  client: pg.Client,
  work: (tx: TxClient) => Promise<{ value: T; commit: boolean }>,
): Promise<T> {
  await client.query("BEGIN");
  try {
    const { value, commit } = await work(client as TxClient);
    await client.query(commit ? "COMMIT" : "ROLLBACK");
    return value;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
