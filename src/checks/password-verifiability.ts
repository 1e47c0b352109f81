/**
 * Whether MAS can verify the password hashes it holds: each user's current password (the latest
 * `user_passwords` row) is checked by the scheme of its `version`. Pure: the pipeline reads the
 * per-version counts from MAS; the configuration rules are those of mas-config.ts, not a copy.
 */
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import type { Finding } from "./finding.ts";
import { MAX_EXAMPLES } from "./finding.ts";
import { pepperMismatch, unicodeNormalizationOff } from "./mas-config.ts";

/** Why MAS could not verify a password. */
export type UnverifiableReason =
  /** `passwords.enabled: false`: MAS checks no password at all. */
  | "passwords_disabled"
  /** No scheme in `passwords.schemes` has the row's version. */
  | "no_scheme"
  /** A bcrypt hash under a scheme whose algorithm is not bcrypt. */
  | "scheme_not_bcrypt"
  /** A migrated hash (version 1) while MAS's pepper differs from Synapse's. */
  | "pepper_mismatch"
  /** Under a bcrypt scheme, a hash that is not a well-formed bcrypt string. */
  | "malformed_hash";

/** A number of rows and up to {@link MAX_EXAMPLES} usernames (MAS's `users.username`), in byte order. */
export interface UsernameSample {
  count: number;
  examples: string[];
}

/** What the pipeline reads from MAS: users' current passwords, by version. */
export interface PasswordVersionStats {
  version: number;
  all: UsernameSample;
  /** Hashes that are well-formed bcrypt strings (src/model/password-hash.ts). */
  usableBcrypt: UsernameSample;
  /** Hashes that are not. */
  unusableBcrypt: UsernameSample;
  /** Hashes that start like bcrypt's (`$2`), whether well-formed or not. */
  bcryptLike: UsernameSample;
}

export interface PasswordVerifiability {
  /** Users with a password in MAS. */
  checked: number;
  /** Of those, the ones MAS could not verify. */
  unverifiable: number;
  /** By reason (only reasons that occur), with example user ids. */
  byReason: Partial<Record<UnverifiableReason, { count: number; examples: string[] }>>;
  /**
   * Configuration findings that lock out some users without the database saying which (e.g.
   * UNICODE_NORMALIZATION_OFF: those whose password NFKC changes), and PEPPER_MISMATCH when it applies.
   */
  findings: Finding[];
}

/** The version Synapse's bcrypt hashes are migrated with (see mas-config.ts). */
const MIGRATED_VERSION = 1;

function userIds(sample: UsernameSample, serverName: string): { count: number; examples: string[] } {
  return { count: sample.count, examples: sample.examples.slice(0, MAX_EXAMPLES).map((u) => `@${u}:${serverName}`) };
}

/** A kind of hash that {@link PasswordVersionStats} counts. */
export type HashCategory = Exclude<keyof PasswordVersionStats, "version">;

/**
 * Which hashes of `version` MAS could not verify, and why: the rule, written once, that both the
 * pipeline (to fetch examples only where needed) and {@link passwordVerifiability} follow.
 */
export function unverifiableCategories(
  synapse: SynapseConfig,
  mas: MasConfig,
  version: number,
): [UnverifiableReason, HashCategory][] {
  const scheme = mas.passwordSchemes.find((s) => s.version === version);
  if (!mas.passwordsEnabled) return [["passwords_disabled", "all"]];
  if (scheme === undefined) return [["no_scheme", "all"]];
  if (scheme.algorithm !== "bcrypt") return [["scheme_not_bcrypt", "bcryptLike"]];
  const pepperDiffers = version === MIGRATED_VERSION && pepperMismatch(synapse, mas).length > 0;
  const categories: [UnverifiableReason, HashCategory][] = [["malformed_hash", "unusableBcrypt"]];
  if (pepperDiffers) categories.push(["pepper_mismatch", "usableBcrypt"]);
  return categories;
}

/** Which of the read passwords MAS could not verify, and why. */
export function passwordVerifiability(
  synapse: SynapseConfig,
  mas: MasConfig,
  versions: readonly PasswordVersionStats[],
): PasswordVerifiability {
  const found: [UnverifiableReason, UsernameSample][] = versions.flatMap((stats) =>
    unverifiableCategories(synapse, mas, stats.version).map(([reason, category]): [UnverifiableReason, UsernameSample] => [
      reason,
      stats[category],
    ]),
  );
  const pepperFindings = pepperMismatch(synapse, mas);
  const merged = new Map<UnverifiableReason, UsernameSample>();
  for (const [reason, sample] of found) {
    if (sample.count === 0) continue;
    const current = merged.get(reason) ?? { count: 0, examples: [] };
    merged.set(reason, { count: current.count + sample.count, examples: [...current.examples, ...sample.examples].sort() });
  }
  const byReason: PasswordVerifiability["byReason"] = {};
  for (const [reason, sample] of merged) byReason[reason] = userIds(sample, synapse.serverName);
  const findings = mas.passwordsEnabled ? [...pepperFindings, ...unicodeNormalizationOff(synapse, mas)] : [];
  return {
    checked: versions.reduce((n, v) => n + v.all.count, 0),
    unverifiable: Object.values(byReason).reduce((n, r) => n + r.count, 0),
    byReason,
    findings,
  };
}
