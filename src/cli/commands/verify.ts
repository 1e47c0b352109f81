/** `syn2mas verify`: after the migration, MAS compared with what Synapse says it must hold, row by row. */
import { DEFAULT_POLICY } from "../../checks/policy.ts";
import { verify, type Examples, type VerifyOutcome } from "../../pipeline/verify.ts";
import { EXIT_BLOCKED, EXIT_OK } from "../exit-codes.ts";
import { loadSetup, type CommonOptions } from "../load.ts";
import type { Output } from "../output.ts";
import { renderSkipCounts } from "../render.ts";
import { testPasswordCommand } from "./test-password.ts";

/** Verify's options. */
export interface VerifyCommandOptions extends CommonOptions {
  json: boolean;
  /** A user whose password, read from standard input, is tested instead of comparing every row. */
  testPassword?: string;
}

/** Some users could not log in with their password: MAS cannot verify their current hash. */
function passwordsAtRisk(outcome: VerifyOutcome): boolean {
  return outcome.passwords.unverifiable > 0;
}

/**
 * 10 when anything is missing, different or unexpected (activity since the migration is not), or
 * when MAS cannot verify some users' passwords.
 */
export function verifyExitCode(outcome: VerifyOutcome): number {
  return outcome.differs || passwordsAtRisk(outcome) ? EXIT_BLOCKED : EXIT_OK;
}

/** Whether MAS can verify every current password: counts by reason with example users, and the configuration's findings. */
function renderPasswords(outcome: VerifyOutcome): string[] {
  const { checked, unverifiable, byReason, findings } = outcome.passwords;
  const lines = [
    unverifiable === 0
      ? `Passwords: MAS can verify all ${checked} users' current passwords.`
      : `Passwords: MAS cannot verify ${unverifiable} of ${checked} users' current passwords: they cannot log in with them.`,
  ];
  for (const [reason, { count, examples }] of Object.entries(byReason)) {
    lines.push(`  ${reason}: ${count}, e.g. ${examples.join(", ")}`);
  }
  for (const f of findings) lines.push(`  ${f.code}: ${f.message}`);
  return lines;
}

function pad(text: string, width: number): string {
  return text.padEnd(width);
}

function exampleText(examples: Examples["examples"]): string {
  return examples.map((e) => (e.device === undefined ? e.user : `${e.user} device ${e.device}`)).join(", ");
}

/** The comparison for people: one line of counts per table, then each difference with examples. */
export function renderVerify(outcome: VerifyOutcome): string {
  const lines: string[] = [];
  lines.push(
    outcome.record === null
      ? "No migration record in MAS (migrated by an older version?): every row MAS holds is compared, none is taken for activity."
      : `Migration committed at ${outcome.record.committedAt} by syn2mas ${outcome.record.toolVersion}.`,
  );
  lines.push(
    "",
    `  ${pad("table", 34)} ${pad("expected", 9)} ${pad("found", 9)} ${pad("missing", 8)} ${pad("different", 10)} ${pad("unexpected", 11)} activity`,
  );
  for (const t of outcome.tables) {
    lines.push(
      `  ${pad(t.table, 34)} ${pad(String(t.expected), 9)} ${pad(String(t.found), 9)} ${pad(String(t.missing.count), 8)} ${pad(String(t.different.count), 10)} ${pad(String(t.unexpected.count), 11)} ${t.activity.count}`,
    );
  }
  const details: string[] = [];
  for (const t of outcome.tables) {
    if (t.missing.count > 0) details.push(`  ${t.table}: ${t.missing.count} missing, e.g. ${exampleText(t.missing.examples)}`);
    if (t.different.count > 0) {
      const columns = Object.entries(t.different.columns)
        .map(([c, n]) => `${c} ${n}`)
        .join(", ");
      details.push(`  ${t.table}: ${t.different.count} different (${columns}), e.g. ${exampleText(t.different.examples)}`);
    }
    if (t.unexpected.count > 0)
      details.push(`  ${t.table}: ${t.unexpected.count} unexpected, e.g. ${exampleText(t.unexpected.examples)}`);
  }
  if (details.length > 0) lines.push("", "Differences:", ...details);
  const activity = outcome.tables.filter((t) => t.activity.count > 0);
  if (activity.length > 0) {
    lines.push("", "Activity in MAS since the migration (not a difference):");
    for (const t of activity) lines.push(`  ${t.table}: ${t.activity.count}, e.g. ${exampleText(t.activity.examples)}`);
  }
  const divergence = outcome.tables.filter((t) => t.divergence.count > 0);
  if (divergence.length > 0) {
    lines.push("", "Warning: Synapse gained rows after the migration (it kept running without delegating to MAS):");
    for (const t of divergence) lines.push(`  ${t.table}: ${t.divergence.count}, e.g. ${exampleText(t.divergence.examples)}`);
  }
  lines.push("", ...renderPasswords(outcome));
  lines.push("", renderSkipCounts(outcome.skipped).trimEnd().replace("Would skip", "Skipped by the migration"));
  lines.push(
    "",
    outcome.differs
      ? "MAS differs from what the migration must have written (see above)."
      : "MAS holds every row the migration must have written, and nothing else from before it.",
  );
  return lines.join("\n") + "\n";
}

/** Runs the comparison, prints it, and returns the exit code (0 or 10). */
export async function verifyCommand(options: VerifyCommandOptions, out: Output): Promise<number> {
  if (options.testPassword !== undefined) return testPasswordCommand(options, options.testPassword, out);
  const setup = loadSetup(options);
  out.info(`Verifying: Synapse ${setup.synapse.serverName} -> MAS`);
  const outcome = await verify({
    ...setup,
    allowRunningSynapse: true,
    skipInvalidRows: true,
    policy: DEFAULT_POLICY,
  });
  out.info(renderVerify(outcome).trimEnd());
  const exitCode = verifyExitCode(outcome);
  if (options.json) {
    const status = outcome.differs ? "different" : passwordsAtRisk(outcome) ? "passwords_unverifiable" : "equal";
    out.json({ command: "verify", status, exitCode, ...outcome });
  }
  return exitCode;
}
