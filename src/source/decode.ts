/** Synapse's storage quirks, decoded in one place: numeric flags, bigint strings, `-` for unknown IPs. */
import { isIP } from "node:net";

/** A raw database value as the drivers return it. */
export type RawValue = string | number | boolean | bigint | null | undefined;

/** Synapse `smallint` flags (`admin`, `is_guest`, `deactivated`): non-zero is true. */
export function decodeFlag(value: RawValue): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === "boolean") return value;
  return Number(value) !== 0;
}

/** Synapse `boolean` columns that may be NULL on old rows (`locked`, `hidden`, `used`): only true is true. */
export function decodeBool(value: RawValue): boolean {
  return value === true || value === 1 || value === "t" || value === "1";
}

/** A `bigint` column (PostgreSQL drivers return them as strings) as a number, or null. */
export function decodeInt(value: RawValue): number | null {
  if (value === null || value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Text, or null. */
export function decodeText(value: RawValue): string | null {
  return value === null || value === undefined ? null : String(value);
}

/**
 * A device IP: Synapse writes `-` (or nothing) when unknown. Anything else that is not a plain
 * IPv4/IPv6 literal (PostgreSQL's `inet` rejects zone ids like `%eth0`) is stored as NULL and flagged.
 */
export function decodeIp(value: RawValue): { ip: string | null; unparsable: boolean } {
  const text = decodeText(value)?.trim() ?? "";
  if (text === "" || text === "-") return { ip: null, unparsable: false };
  if (isIP(text) !== 0 && !text.includes("%")) return { ip: text, unparsable: false };
  return { ip: null, unparsable: true };
}
