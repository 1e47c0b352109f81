/** The one-line report (and the JSON object) for a run that could not happen: exit 1. Pure. */
import { CommanderError } from "commander";
import { UserError } from "../errors/user-error.ts";

/** Why the tool could not run and what to do, as printed. */
export interface Failure {
  message: string;
  fix: string;
  /** A bug, not a problem with the input: the line says "internal error". */
  internal: boolean;
}

/**
 * Verbs a hint may start with. Every hint is an imperative sentence for the operator, starting with one of
 * these in lower case, without a final period, and without a "fix:" of its own (the line adds it).
 */
export const HINT_VERBS = [
  "accept", "add", "ask", "check", "choose", "correct", "create", "give", "grant", "keep", "make", "move", "pass",
  "point", "quote", "remove", "rename", "rerun", "restore", "run", "see", "set", "start", "stop", "turn", "upgrade",
  "use", "wait", "write",
] as const;

/** Whether `hint` has the form every hint has (see {@link HINT_VERBS}). */
export function isHintForm(hint: string): boolean {
  const first = /^[a-z]+/.exec(hint)?.[0];
  return (
    first !== undefined &&
    (HINT_VERBS as readonly string[]).includes(first) &&
    !hint.endsWith(".") &&
    !/\bfix:/i.test(hint) &&
    !hint.includes("\n")
  );
}

/**
 * A hint in the printed form: first letter in lower case (unless the first word is a name such as MAS),
 * no final period. Keeps hints from any part of the tool looking alike on the `(fix: ...)` line.
 */
export function hintText(hint: string): string {
  const trimmed = hint.trim().replace(/\.$/, "");
  return /^[A-Z][a-z]/.test(trimmed) ? trimmed[0]!.toLowerCase() + trimmed.slice(1) : trimmed;
}

/** What to report for `error`, or undefined when it is not a failure (commander's --help and --version). */
export function describeFailure(error: unknown, command: string | undefined): Failure | undefined {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return undefined;
    const message = error.code === "commander.help" ? "no command given" : error.message.replace(/^error: /, "");
    const help = command === undefined ? "syn2mas --help" : `syn2mas ${command} --help`;
    return { message, fix: `see ${help} for the commands, their options and examples`, internal: false };
  }
  if (error instanceof UserError) return { message: error.message, fix: hintText(error.hint), internal: false };
  const first = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return { message: `internal error: ${first}`, fix: "rerun with --debug and report it: this is a bug", internal: true };
}

/** The stderr line: `syn2mas: error: <message> (fix: <fix>)`. */
export function failureLine(failure: Failure): string {
  if (failure.internal) return `syn2mas: ${failure.message}. This is a bug: rerun with --debug and report it.`;
  return `syn2mas: error: ${failure.message} (fix: ${failure.fix})`;
}

/** The one JSON object `--json` prints on stdout when the tool could not run. */
export function failureJson(failure: Failure, command: string | undefined): object {
  return { command: command ?? null, status: "error", exitCode: 1, error: { message: failure.message, fix: failure.fix } };
}

/** The command the arguments name (`check`, `migrate`, `config generate`), for messages; undefined if none. */
export function commandOf(args: readonly string[]): string | undefined {
  if (args[0] === "check" || args[0] === "migrate") return args[0];
  if (args[0] === "config" && args[1] === "generate") return "config generate";
  return undefined;
}
