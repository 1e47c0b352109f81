/**
 * How Synapse and MAS check a password against a bcrypt hash, computed here the same way so that
 * an operator can test an account before the cut-over.
 *
 * Synapse 1.160 (`validate_hash` in synapse/handlers/auth.py): NFKC-normalises the password, then
 * bcrypt-checks its UTF-8 bytes followed by the UTF-8 bytes of `password_config.pepper` ("" when unset).
 * MAS, for a bcrypt scheme: NFKC-normalises only when the scheme has `unicode_normalization: true`,
 * then bcrypt-checks the UTF-8 bytes followed by the scheme's `secret` (none when unset). With
 * normalisation on and the same pepper the two compute the same bytes; bcrypt itself reads only the
 * first 72 of them (MAS's bcrypt silently drops the rest; recent versions of Python's bcrypt refuse
 * such input instead), so beyond that length the two may disagree.
 */
import bcrypt from "bcryptjs";

/** The bytes bcrypt reads at most. */
export const BCRYPT_MAX_INPUT_BYTES = 72;

/** How one side turns a password into bcrypt's input. */
export interface BcryptInput {
  /** Apply Unicode NFKC normalisation first. */
  unicodeNormalization: boolean;
  /** Appended after the password; undefined or "" appends nothing. */
  pepper: string | undefined;
}

/** Synapse's way, with its configured pepper. */
export function synapseInput(pepper: string | undefined): BcryptInput {
  return { unicodeNormalization: true, pepper };
}

/** The text whose UTF-8 bytes bcrypt reads (UTF-8 of a concatenation is the concatenation of the UTF-8 bytes). */
function bcryptText(password: string, input: BcryptInput): string {
  const text = input.unicodeNormalization ? password.normalize("NFKC") : password;
  return text + (input.pepper ?? "");
}

/** How many bytes the peppered input has. */
export function bcryptInputBytes(password: string, input: BcryptInput): number {
  return Buffer.byteLength(bcryptText(password, input), "utf8");
}

/** Whether bcrypt would ignore part of the input (its last bytes beyond the 72nd). */
export function exceedsBcryptLimit(password: string, input: BcryptInput): boolean {
  return bcryptInputBytes(password, input) > BCRYPT_MAX_INPUT_BYTES;
}

/** Whether normalising changes this password (then a side that does not normalise computes other bytes). */
export function nfkcChanges(password: string): boolean {
  return password.normalize("NFKC") !== password;
}

/**
 * Whether `hash` (a bcrypt modular-crypt string) matches `password` prepared as `input` says.
 * False for a hash bcrypt cannot read, never an exception.
 */
export async function bcryptMatches(password: string, hash: string, input: BcryptInput): Promise<boolean> {
  try {
    return await bcrypt.compare(bcryptText(password, input), hash);
  } catch {
    return false;
  }
}

/** A bcrypt hash of `password` prepared as `input` says, for tests and fixtures that need one. */
export function bcryptHash(password: string, input: BcryptInput, cost = 4): Promise<string> {
  return bcrypt.hash(bcryptText(password, input), cost);
}
