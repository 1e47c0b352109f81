/** Exit codes, as `mas-cli syn2mas` uses them, from one pure function of the command and its findings. */
import type { Finding } from "../checks/finding.ts";
import { blocksMigration, type FindingPolicy } from "../checks/policy.ts";

export const EXIT_OK = 0;
/** The tool could not run: unreadable configuration, unreachable database, a bug. */
export const EXIT_TOOL_FAILURE = 1;
/** A check found an error (or, for `migrate --strict`, an unaccepted warning): nothing was written. */
export const EXIT_BLOCKED = 10;
/** `check` only: warnings that were not accepted. */
export const EXIT_WARNINGS = 11;
/** Interrupted (SIGINT, SIGTERM); the message says whether the migration committed or was rolled back. */
export const EXIT_INTERRUPTED = 130;

/**
 * The exit code for a command's findings (already marked with {@link applyPolicy}).
 * `check`: 10 on errors, 11 on unaccepted warnings. `migrate`: 10 when anything blocks it.
 */
export function exitCodeFor(command: "check" | "migrate", findings: Finding[], policy: FindingPolicy): number {
  if (command === "migrate") return findings.some((f) => blocksMigration(f, policy)) ? EXIT_BLOCKED : EXIT_OK;
  if (findings.some((f) => f.severity === "error")) return EXIT_BLOCKED;
  if (findings.some((f) => f.severity === "warning" && f.accepted !== true)) return EXIT_WARNINGS;
  return EXIT_OK;
}
