/** Exit codes, as `mas-cli syn2mas` uses them. */
import type { Finding } from "../checks/finding.ts";

export const EXIT_OK = 0;
/** The tool could not run: unreadable configuration, unreachable database, a bug. */
export const EXIT_TOOL_FAILURE = 1;
/** A check found an error: nothing was written. */
export const EXIT_BLOCKED = 10;
/** `check` only: warnings that were not accepted. */
export const EXIT_WARNINGS = 11;

/** The exit code for a command's findings. `migrate` ignores warnings (they never block it). */
export function exitCodeFor(command: "check" | "migrate", findings: Finding[]): number {
  if (findings.some((f) => f.severity === "error")) return EXIT_BLOCKED;
  if (command === "check" && findings.some((f) => f.severity === "warning")) return EXIT_WARNINGS;
  return EXIT_OK;
}
