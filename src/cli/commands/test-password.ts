/** `syn2mas verify --test-password USER`: would MAS accept this password for this user, and did Synapse? */
import type { TestPasswordOutcome } from "../../pipeline/test-password.ts";
import { testPassword } from "../../pipeline/test-password.ts";
import { EXIT_BLOCKED, EXIT_OK } from "../exit-codes.ts";
import { loadSetup, type CommonOptions } from "../load.ts";
import type { Output } from "../output.ts";
import { readPassword } from "../read-password.ts";

const MAS_VERDICTS: Record<TestPasswordOutcome["mas"], string> = {
  accepted: "MAS would accept this password",
  refused: "MAS would refuse this password",
  no_password: "MAS holds no password for this user (they sign in through an upstream provider, or not at all)",
  no_user: "MAS has no such user (not migrated yet?)",
  unsupported_scheme: "MAS holds this user's password under a scheme this tool does not compute (not bcrypt)",
  no_scheme: "MAS's passwords.schemes has no entry for the version of this user's password: MAS cannot check it",
  passwords_disabled: "MAS's passwords.enabled is false: MAS accepts no password",
};

const SYNAPSE_VERDICTS: Record<TestPasswordOutcome["synapse"], string> = {
  accepted: "Synapse accepted it",
  refused: "Synapse refused it",
  no_password: "Synapse holds no password for this user",
  no_user: "Synapse has no such user",
};

const NOTES: Record<TestPasswordOutcome["notes"][number], string> = {
  mas_does_not_normalize:
    "Unicode normalisation changes this password and MAS's scheme does not normalise: set unicode_normalization: true on it",
  beyond_bcrypt_limit:
    "password and pepper exceed bcrypt's 72 bytes: MAS ignores the rest (Synapse with Python bcrypt 5.0 or later refused such logins)",
};

/** The verdicts for people; names neither the password nor any hash. */
export function renderTestPassword(outcome: TestPasswordOutcome): string {
  const scheme =
    outcome.masScheme === undefined
      ? ""
      : ` (password version ${outcome.masScheme.version}, ${outcome.masScheme.algorithm ?? "no scheme"})`;
  const lines = [`${outcome.userId}: ${MAS_VERDICTS[outcome.mas]}${scheme}; ${SYNAPSE_VERDICTS[outcome.synapse]}.`];
  for (const note of outcome.notes) lines.push(`  note: ${NOTES[note]}`);
  return lines.join("\n");
}

/** 0 when MAS would accept the password, 10 otherwise. */
export function testPasswordExitCode(outcome: TestPasswordOutcome): number {
  return outcome.mas === "accepted" ? EXIT_OK : EXIT_BLOCKED;
}

/** Reads the password from standard input (never argv), tests it, prints the verdicts. */
export async function testPasswordCommand(
  options: CommonOptions & { json: boolean },
  user: string,
  out: Output,
): Promise<number> {
  const setup = loadSetup(options);
  const password = await readPassword(`Password for ${user}: `);
  const outcome = await testPassword(setup, user, password);
  out.info(renderTestPassword(outcome));
  const exitCode = testPasswordExitCode(outcome);
  if (options.json) out.json({ command: "verify --test-password", exitCode, ...outcome });
  return exitCode;
}
