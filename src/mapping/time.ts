/**
 * Synapse times as MAS can hold them. A MAS time must fit the 48-bit millisecond time of a ULID,
 * PostgreSQL's timestamptz, and the ISO 8601 text this tool writes it as (four-digit years): from
 * 1970-01-01 to 9999-12-31T23:59:59.999Z. A Synapse column may hold anything a bigint can (a
 * creation time in milliseconds, the int64 limit, a negative number): each is given a defined
 * meaning here, so that no value can stop a migration or bring a session back to life.
 * KEEP IN STEP with the OUT_OF_RANGE_TIMESTAMPS counts (source/findings-sql.ts).
 */

import { MAX_MAS_TIME_MS, MAX_MAS_TIME_S } from "../model/mas-time.ts";

export { MAX_MAS_TIME_MS, MAX_MAS_TIME_S };

/** True when `ms` is a time MAS can hold as it is. */
export function isMasTime(ms: number): boolean {
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_MAS_TIME_MS;
}

/** A time in ms, or null when it is unknown or out of range (last seen, last validated: "unknown" is NULL). */
export function knownTime(ms: number | null): number | null {
  return ms !== null && isMasTime(ms) ? ms : null;
}

/**
 * `users.creation_ts`, kept in seconds, in ms; null when unknown. A value too large for seconds
 * that is a valid time in milliseconds was written in milliseconds (1700000000000), and is taken
 * as such; anything else out of range (negative, the int64 limit) is unknown, as NULL is.
 */
export function creationTimeMs(creationTs: number | null): number | null {
  if (creationTs === null) return null;
  if (isMasTime(creationTs * 1000)) return creationTs * 1000;
  if (creationTs > MAX_MAS_TIME_S && isMasTime(creationTs)) return creationTs;
  return null;
}

/**
 * `access_tokens.valid_until_ms` as MAS's `expires_at`. NULL means no expiry; a time beyond
 * year 9999 is no expiry in practice (NULL); a negative time is long past: it stays expired, at 1970.
 */
export function expiryTime(validUntilMs: number | null): number | null {
  if (validUntilMs === null || validUntilMs > MAX_MAS_TIME_MS || Number.isNaN(validUntilMs)) return null;
  return Math.max(validUntilMs, 0);
}
