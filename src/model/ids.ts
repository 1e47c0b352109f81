/** ULIDs as MAS stores them: 48 bits of Unix milliseconds then 80 other bits, in a `uuid` column. */

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A MAS id in its database form (a lower-case UUID string). */
export type MasId = string & { readonly __brand: "MasId" };

const MAX_ULID_TIME = 2 ** 48 - 1;

/**
 * Builds a ULID-as-UUID from a time in milliseconds and 20 hex digits (80 bits) of other data.
 * Times outside the 48-bit range are clamped so that a bad source value cannot produce an invalid id.
 */
export function ulidFromParts(timeMs: number, randomHex20: string): MasId {
  // A length check only: callers pass hex they built; this runs once per row written.
  if (randomHex20.length !== 20) throw new Error("ulidFromParts: need 20 lower-case hex digits");
  const time = Math.min(Math.max(Math.floor(timeMs), 0), MAX_ULID_TIME);
  const hex = time.toString(16).padStart(12, "0") + randomHex20;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}` as MasId;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex16(n: number): string {
  return (HEX_BYTE[(n >>> 8) & 255] as string) + (HEX_BYTE[n & 255] as string);
}

function hex32(n: number): string {
  return hex16(n >>> 16) + hex16(n & 0xffff);
}

/**
 * Builds a ULID-as-UUID from a time in milliseconds and 80 other bits given as two 32-bit words
 * and the high 16 bits of a third. The same layout as {@link ulidFromParts}, without string slicing:
 * it runs once per row written.
 */
export function ulidFromWords(timeMs: number, word1: number, word2: number, word3: number): MasId {
  const time = Math.min(Math.max(Math.floor(timeMs), 0), MAX_ULID_TIME);
  const high = Math.floor(time / 0x1_0000_0000);
  const low = time >>> 0;
  return `${hex32(((high << 16) | (low >>> 16)) >>> 0)}-${hex16(low & 0xffff)}-${hex16(word1 >>> 16)}-${hex16(word1 & 0xffff)}-${hex32(word2)}${hex16(word3 >>> 16)}` as MasId;
}

/** The millisecond time part of a ULID stored as a UUID. */
export function ulidTimeMs(id: string): number {
  return parseInt(id.replace(/-/g, "").slice(0, 12), 16);
}

/**
 * Converts a ULID in its 26-character Crockford base32 text form (as MAS configuration files
 * write provider ids) to the UUID form of the database. Returns undefined when it is not a ULID.
 */
export function ulidTextToUuid(text: string): MasId | undefined {
  const upper = text.trim().toUpperCase();
  if (!/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(upper)) return undefined;
  let value = 0n;
  for (const ch of upper) value = value * 32n + BigInt(CROCKFORD.indexOf(ch));
  const hex = value.toString(16).padStart(32, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}` as MasId;
}

/** Converts a UUID to its 26-character ULID text form (for messages that name a provider). */
export function uuidToUlidText(uuid: string): string {
  let value = BigInt("0x" + uuid.replace(/-/g, ""));
  let out = "";
  for (let i = 0; i < 26; i++) {
    out = CROCKFORD[Number(value % 32n)] + out;
    value /= 32n;
  }
  return out;
}
