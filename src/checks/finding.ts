/** Findings: what a check reports, with a stable code, a severity, a count and examples. */

export type Severity = "error" | "warning" | "info";

/** Every finding code this tool can report, with its severity (from shared/spec/checks.md). */
export const FINDING_CODES = {
  UNSUPPORTED_DATABASE: "error",
  SERVER_NAME_MISMATCH: "error",
  PROVIDER_NOT_IN_MAS: "error",
  PROVIDER_NOT_SYNCED: "error",
  MAS_SCHEMA_MISSING: "error",
  MAS_SCHEMA_UNSUPPORTED: "error",
  MAS_SCHEMA_NEWER: "warning",
  MAS_NOT_EMPTY: "error",
  MIGRATION_RUNNING: "error",
  SYNAPSE_SCHEMA_UNSUPPORTED: "error",
  FOREIGN_USER_IDS: "error",
  ORPHAN_ROWS: "error",
  SYNAPSE_RUNNING: "error",
} as const satisfies Record<string, Severity>;

export type FindingCode = keyof typeof FINDING_CODES;

/** One problem found before anything is written. Examples hold user ids or table names, never secrets. */
export interface Finding {
  code: FindingCode;
  severity: Severity;
  /** What is wrong and what to do, in one paragraph. */
  message: string;
  count?: number;
  examples?: string[];
}

/** Builds a finding with the severity its code has. */
export function finding(
  code: FindingCode,
  message: string,
  extra: { count?: number; examples?: string[]; severity?: Severity } = {},
): Finding {
  const { severity, ...rest } = extra;
  return { code, severity: severity ?? FINDING_CODES[code], message, ...rest };
}

/** The number of examples a finding carries at most. */
export const MAX_EXAMPLES = 5;
