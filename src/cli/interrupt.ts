/**
 * Ctrl-C (SIGINT) and SIGTERM: exit 130 with one line saying truthfully what became of the
 * migration. Before COMMIT is sent, exiting closes the connection and PostgreSQL rolls the open
 * transaction back; once COMMIT is in flight only MAS knows, so the handler waits for its answer
 * (a second signal stops waiting and asks MAS from a new connection instead).
 */
import { commitOutcome, lookUpCommit, transactionStage, type TransactionOutcome } from "../target/transaction.ts";
import { EXIT_INTERRUPTED } from "./exit-codes.ts";

function say(signal: NodeJS.Signals, text: string): void {
  process.stderr.write(`syn2mas: interrupted (${signal}): ${text}\n`);
}

function sayOutcome(signal: NodeJS.Signals, outcome: TransactionOutcome | undefined): void {
  if (outcome === "committed") {
    say(signal, "the migration had already committed: MAS holds the migrated data (the report was not printed)");
  } else if (outcome === "in progress") {
    say(
      signal,
      "MAS is still committing the migration (COMMIT has not finished, e.g. waiting for a synchronous standby): it completes or fails on its own; see whether MAS's users table holds the migrated users before running again",
    );
  } else if (outcome === "rolled back") {
    say(signal, "the migration's COMMIT failed and it was rolled back: nothing was written to MAS; run again to migrate");
  } else {
    say(signal, "MAS did not say whether the migration committed: see whether its users table holds the migrated users; if it is empty, run again");
  }
}

let waitingForCommit = false;

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  const stage = transactionStage();
  if (stage === "committing") {
    if (waitingForCommit) {
      // A second signal: stop waiting for COMMIT's answer and ask MAS how the transaction stands.
      sayOutcome(signal, await lookUpCommit());
      process.exit(EXIT_INTERRUPTED);
    }
    waitingForCommit = true;
    say(signal, "COMMIT is in flight: waiting for MAS's answer (interrupt again to stop waiting)");
    sayOutcome(signal, await commitOutcome());
    process.exit(EXIT_INTERRUPTED);
  }
  if (stage === "committed" || stage === "unknown") {
    sayOutcome(signal, stage);
  } else if (stage === "none") {
    say(signal, "nothing was written to MAS; run again");
  } else {
    // "open" (COMMIT not sent: exiting ends the connection, PostgreSQL rolls back), or already rolled back.
    say(signal, "the migration was rolled back: nothing was written to MAS; run again to migrate");
  }
  process.exit(EXIT_INTERRUPTED);
}

/** Installs the handlers for SIGINT and SIGTERM. */
export function handleInterrupts(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => void onSignal(signal));
  }
}
