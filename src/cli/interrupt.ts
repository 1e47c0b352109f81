/**
 * Ctrl-C (SIGINT) and SIGTERM: exit 130 with one line saying truthfully what became of the
 * migration (and, with --json, one object on stdout saying the same). Before COMMIT is sent,
 * exiting closes the connection and PostgreSQL rolls the open transaction back; once COMMIT is in
 * flight only MAS knows, so the handler waits for its answer (a second signal stops waiting and
 * asks MAS from a new connection instead).
 */
import { commitOutcome, lookUpCommit, transactionStage, type TransactionOutcome } from "../target/transaction.ts";
import { EXIT_INTERRUPTED } from "./exit-codes.ts";

/** What became of the migration, as the JSON object names it. */
type Ending = TransactionOutcome | "nothing written";

/** What the operator is told for each ending. */
const SAID: Record<Ending, string> = {
  committed: "the migration had already committed: MAS holds the migrated data (the report was not printed)",
  "in progress":
    "MAS is still committing the migration (COMMIT has not finished, e.g. waiting for a synchronous standby): it completes or fails on its own; see whether MAS's users table holds the migrated users before running again",
  "rolled back": "the migration was rolled back: nothing was written to MAS; run again to migrate",
  unknown:
    "MAS did not say whether the migration committed: see whether its users table holds the migrated users; if it is empty, run again",
  "nothing written": "nothing was written to MAS; run again",
};

/** The same for `rollback`, whose transaction removes a migration instead of writing one. */
const SAID_OF_ROLLBACK: Record<Ending, string> = {
  committed: "the rollback had already committed: MAS no longer holds the migration (the report was not printed)",
  "in progress":
    "MAS is still committing the rollback (COMMIT has not finished): it completes or fails on its own; see whether MAS's users table is empty before running again",
  "rolled back": "the rollback was undone: MAS still holds the migration, unchanged; run rollback again",
  unknown: "MAS did not say whether the rollback committed: see whether its users table is empty; if not, run rollback again",
  "nothing written": "nothing was changed in MAS; run rollback again",
};

const COMMIT_FAILED = "the migration's COMMIT failed and it was rolled back: nothing was written to MAS; run again to migrate";

export interface InterruptOptions {
  /** --json was given: stdout gets one object, as for every other ending. */
  json: boolean;
  /** The command running (`check`, `migrate`, ...), named in the JSON object. */
  command: () => string | undefined;
}

function say(signal: NodeJS.Signals, text: string): void {
  process.stderr.write(`syn2mas: interrupted (${signal}): ${text}\n`);
}

function finish(
  signal: NodeJS.Signals,
  ending: Ending,
  options: InterruptOptions,
  text = (options.command() === "rollback" ? SAID_OF_ROLLBACK : SAID)[ending],
): never {
  say(signal, text);
  if (options.json) {
    const result = {
      command: options.command() ?? null,
      status: "interrupted",
      exitCode: EXIT_INTERRUPTED,
      signal,
      migration: ending,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  }
  process.exit(EXIT_INTERRUPTED);
}

let waitingForCommit = false;

async function onSignal(signal: NodeJS.Signals, options: InterruptOptions): Promise<void> {
  const stage = transactionStage();
  if (stage === "committing") {
    if (waitingForCommit) {
      // A second signal: stop waiting for COMMIT's answer and ask MAS how the transaction stands.
      finish(signal, (await lookUpCommit()) ?? "unknown", options);
    }
    waitingForCommit = true;
    say(signal, "COMMIT is in flight: waiting for MAS's answer (interrupt again to stop waiting)");
    const ending = (await commitOutcome()) ?? "unknown";
    const failed = options.command() === "rollback" ? SAID_OF_ROLLBACK["rolled back"] : COMMIT_FAILED;
    finish(signal, ending, options, ending === "rolled back" ? failed : undefined);
  }
  if (stage === "committed" || stage === "unknown") finish(signal, stage, options);
  if (stage === "none") finish(signal, "nothing written", options);
  // "open" (COMMIT not sent: exiting ends the connection, PostgreSQL rolls back), or already rolled back.
  finish(signal, "rolled back", options);
}

/** Installs the handlers for SIGINT and SIGTERM. */
export function handleInterrupts(options: InterruptOptions): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => void onSignal(signal, options));
  }
}
