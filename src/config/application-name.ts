/**
 * The application_name of this tool's PostgreSQL connections: the command and the side, so that
 * another run (and an operator reading pg_stat_activity) tells them from Synapse's and MAS's own.
 */

/** What a run does: `check`, `verify`, `status` and the dry runs never write anything that stays. */
export type RunKind =
  "check" | "prepare" | "prepare-dry-run" | "migrate" | "dry-run" | "verify" | "status" | "rollback" | "rollback-dry-run";
export type DatabaseRole = "Synapse" | "MAS";

const COMMANDS: Record<RunKind, string> = {
  check: "check",
  prepare: "prepare",
  "prepare-dry-run": "prepare --dry-run",
  migrate: "migrate",
  "dry-run": "migrate --dry-run",
  verify: "verify",
  status: "status",
  rollback: "rollback",
  "rollback-dry-run": "rollback --dry-run",
};

/** E.g. `syn2mas migrate (Synapse)`. */
export function applicationName(run: RunKind, role: DatabaseRole): string {
  return `syn2mas ${COMMANDS[run]} (${role})`;
}

/** The kind of run a session of this tool belongs to, from its application_name; undefined for any other program. */
export function runOfApplicationName(name: string): RunKind | undefined {
  const match = /^syn2mas (.+) \((?:Synapse|MAS)\)$/.exec(name);
  return (Object.keys(COMMANDS) as RunKind[]).find((run) => COMMANDS[run] === match?.[1]);
}
