/** Which findings the operator accepted, and which of them block a migration. Pure. */
import { UserError } from "../errors/user-error.ts";
import { FINDING_CODES, type Finding, type FindingCode } from "./finding.ts";

export interface FindingPolicy {
  /** Warning codes accepted with --accept-warning, or every warning (--accept-all-warnings). */
  acceptedWarnings: ReadonlySet<FindingCode> | "all";
  /** `migrate --strict`: unaccepted warnings block the migration too. */
  strict: boolean;
}

export const DEFAULT_POLICY: FindingPolicy = { acceptedWarnings: new Set(), strict: false };

/** Validates `--accept-warning` values: each must be a known warning code. */
export function parseAcceptedWarnings(codes: string[], all: boolean): FindingPolicy["acceptedWarnings"] {
  if (all) return "all";
  const accepted = new Set<FindingCode>();
  for (const raw of codes) {
    const code = raw.trim().toUpperCase();
    if (!(code in FINDING_CODES)) {
      throw new UserError(`--accept-warning ${raw}: no such finding code`, "use a code that check prints, e.g. GUEST_USERS");
    }
    if (FINDING_CODES[code as FindingCode] !== "warning") {
      throw new UserError(
        `--accept-warning ${raw}: ${code} is ${FINDING_CODES[code as FindingCode] === "error" ? "an error" : "information"}, not a warning`,
        "accept only warnings: an error must be corrected, as its message says",
      );
    }
    accepted.add(code as FindingCode);
  }
  return accepted;
}

/** Marks accepted warnings. Other findings are returned unchanged. */
export function applyPolicy(findings: Finding[], policy: FindingPolicy): Finding[] {
  return findings.map((f) =>
    f.severity === "warning" && (policy.acceptedWarnings === "all" || policy.acceptedWarnings.has(f.code))
      ? { ...f, accepted: true }
      : f,
  );
}

/** Whether a finding (after {@link applyPolicy}) stops `migrate`. */
export function blocksMigration(f: Finding, policy: FindingPolicy): boolean {
  return f.severity === "error" || (policy.strict && f.severity === "warning" && f.accepted !== true);
}

/** The findings marked with the policy ({@link applyPolicy}), and whether any of them stops `migrate`. */
export function judge(findings: Finding[], policy: FindingPolicy): { findings: Finding[]; blocks: boolean } {
  const marked = applyPolicy(findings, policy);
  return { findings: marked, blocks: marked.some((f) => blocksMigration(f, policy)) };
}
