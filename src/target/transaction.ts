/** The only way to get a client that writes to MAS: inside one transaction, committed or rolled back whole. */
import type pg from "pg";
import { UserError } from "../errors/user-error.ts";

/** A MAS connection inside an open transaction. Only {@link withTransaction} makes one. */
export type TxClient = pg.Client & { readonly __brand: "TxClient" };

/**
 * How a transaction ended, as far as this process can tell: "in progress" when MAS says COMMIT
 * has not finished (it then completes or fails on its own, e.g. once a synchronous standby answers).
 */
export type TransactionOutcome = "committed" | "rolled back" | "in progress" | "unknown";

/**
 * Where the process's MAS transaction is: "none" before BEGIN, "open" until COMMIT is sent,
 * "committing" until COMMIT's answer (or, with the connection gone, MAS's own record) says how it
 * ended. Read by the interrupt handler, which must say truthfully whether the migration committed.
 */
export type TransactionStage = "none" | "open" | "committing" | "committed" | "rolled back" | "unknown";

interface TransactionState {
  stage: TransactionStage;
  /** While "committing": how the COMMIT ended, once known. */
  outcome?: Promise<TransactionOutcome>;
  /** While "committing": asks MAS from a new connection, without waiting for COMMIT's answer. */
  lookUp?: () => Promise<TransactionOutcome>;
}

let state: TransactionState = { stage: "none" };

/** Where the MAS transaction of this process is now. */
export function transactionStage(): TransactionStage {
  return state.stage;
}

/** While COMMIT is in flight: how it ended, once COMMIT answers or MAS says so. */
export function commitOutcome(): Promise<TransactionOutcome> | undefined {
  return state.outcome;
}

/** While COMMIT is in flight: MAS's record of the transaction, read from a new connection now. */
export function lookUpCommit(): Promise<TransactionOutcome> | undefined {
  return state.lookUp?.();
}

/** Opens a new connection to the same MAS database (to read how a transaction ended). */
export type Reconnect = () => Promise<pg.Client>;

/**
 * Asks MAS how transaction `xid` ended. `txid_status` reads the commit log, so it answers even
 * when the connection that sent COMMIT is gone.
 */
async function transactionStatus(reconnect: Reconnect, xid: string): Promise<TransactionOutcome> {
  let client: pg.Client | undefined;
  try {
    client = await reconnect();
    const result = await client.query<{ status: string | null }>("SELECT txid_status($1::bigint) AS status", [xid]);
    const status = result.rows[0]?.status;
    if (status === "committed") return "committed";
    if (status === "aborted") return "rolled back";
    if (status === "in progress") return "in progress";
    return "unknown"; // too old to tell
  } catch {
    return "unknown";
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/** What to tell the operator when COMMIT's answer was lost and MAS cannot say how the transaction ended. */
export interface LostCommitAnswer {
  message: string;
  hint: string;
}

const MIGRATION_ANSWER_LOST: LostCommitAnswer = {
  message:
    "the answer to COMMIT from the MAS database was lost, and MAS could not tell whether the migration committed (it may still be committing)",
  hint: "see whether MAS's users table holds the migrated users: if it does, the migration is done; if it is empty, run again",
};

/**
 * Runs `work` inside BEGIN ... COMMIT on `client`, or ROLLBACK when `work` throws or `commit`
 * returns false (the dry run). A killed process leaves nothing behind: PostgreSQL aborts the
 * open transaction when the connection drops. When COMMIT fails (e.g. the connection is lost
 * while it is in flight), MAS is asked from a new connection whether the transaction committed:
 * if it did, the migration is done and its value returned; if that cannot be found out, the error says so.
 */
export async function withTransaction<T>(
  client: pg.Client,
  work: (tx: TxClient) => Promise<{ value: T; commit: boolean }>,
  reconnect: Reconnect,
  lostAnswer: LostCommitAnswer = MIGRATION_ANSWER_LOST,
): Promise<T> {
  await client.query("BEGIN");
  state = { stage: "open" };
  let value: T;
  let xid: string;
  try {
    const result = await work(client as TxClient);
    value = result.value;
    if (!result.commit) {
      await client.query("ROLLBACK");
      state = { stage: "rolled back" };
      return value;
    }
    xid = (await client.query<{ xid: string }>("SELECT txid_current()::text AS xid")).rows[0]?.xid as string;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    state = { stage: "rolled back" };
    throw error;
  }
  let commitError: unknown;
  const outcome = client.query("COMMIT").then(
    (): TransactionOutcome => "committed",
    (error: unknown) => {
      commitError = error;
      return transactionStatus(reconnect, xid);
    },
  );
  state = { stage: "committing", outcome, lookUp: () => transactionStatus(reconnect, xid) };
  // COMMIT failed and MAS still calls the transaction in progress: its end is not known here.
  const ended = await outcome.then((o) => (o === "in progress" ? "unknown" : o));
  state = { stage: ended };
  if (ended === "committed") return value;
  if (ended === "rolled back") throw commitError;
  throw new UserError(lostAnswer.message, lostAnswer.hint, { cause: commitError });
}
