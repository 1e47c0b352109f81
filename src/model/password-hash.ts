/**
 * Which Synapse password hashes MAS can verify: its password scheme 1 is bcrypt, which reads only
 * a bcrypt modular-crypt string. Anything else (`x`, an argon2 or other scheme's string, a
 * truncated hash) would be written as a password no one can ever log in with.
 */

import { sqlOnlyCharsOf, type SqlEngine } from "./sql-charset.ts";

/** The bcrypt versions MAS's bcrypt implementation reads. */
const BCRYPT_PREFIXES = ["$2a$", "$2b$", "$2x$", "$2y$"] as const;
/** The costs it accepts (4 to 31), as the two digits Synapse writes. */
const BCRYPT_COSTS = Array.from({ length: 31 - 4 + 1 }, (_, i) => String(i + 4).padStart(2, "0"));
/** bcrypt's own base64 alphabet: 22 characters of salt, then 31 of hash. */
const BCRYPT_BASE64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const USABLE = new RegExp(`^\\$2[abxy]\\$(${BCRYPT_COSTS.join("|")})\\$[./A-Za-z0-9]{53}$`);

/**
 * True for a hash MAS can verify: `$2a$`, `$2b$`, `$2x$` or `$2y$`, a two-digit cost from 04 to
 * 31, `$`, then 53 characters of bcrypt base64 (60 in all). Must agree with {@link sqlIsUsableBcryptHash}.
 */
export function isUsableBcryptHash(hash: string): boolean {
  return USABLE.test(hash);
}

/**
 * The same test as {@link isUsableBcryptHash} over a text column, in `engine`'s SQL (see
 * sql-charset.ts for the alphabet test). NULL for a NULL column.
 */
export function sqlIsUsableBcryptHash(column: string, engine: SqlEngine): string {
  const list = (values: readonly string[]) => values.map((v) => `'${v}'`).join(", ");
  return (
    `(length(${column}) = 60 AND substr(${column}, 1, 4) IN (${list(BCRYPT_PREFIXES)}) ` +
    `AND substr(${column}, 5, 2) IN (${list(BCRYPT_COSTS)}) AND substr(${column}, 7, 1) = '$' ` +
    `AND ${sqlOnlyCharsOf(`substr(${column}, 8)`, BCRYPT_BASE64, engine)})`
  );
}
