/** The one-line report (and the JSON object) for a run that could not happen: exit 1. Pure. */
import { CommanderError } from "commander";
import { hintText } from "../errors/hint-form.ts";
import { UserError } from "../errors/user-error.ts";

/** Why the tool could not run and what to do, as printed. */
export interface Failure {
  message: string;
  fix: string;
  /** A bug, not a problem with the input: the line says "internal error". */
  internal: boolean;
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
  if (args[0] === "check" || args[0] === "migrate" || args[0] === "verify" || args[0] === "status") return args[0];
  if (args[0] === "rollback") return args[0];
  if (args[0] === "config" && args[1] === "generate") return "config generate";
  return undefined;
}
