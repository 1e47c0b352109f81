/** PostgreSQL's spelling of what the shared SQL needs (see SqlDialect). */
import type { SqlDialect } from "../snapshot-readers.ts";

/** Whitespace that JavaScript's trim() removes around a device IP (the ASCII part of it). */
const TRIMMED = (ip: string): string => `btrim(${ip}, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))`;

const V4_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
const HEX_GROUP = "[0-9a-f]{1,4}";

/** An IPv4 literal as Node's `isIP` accepts it: four decimal octets, no leading zeros. */
export const IPV4_PATTERN = `^${V4_OCTET}([.]${V4_OCTET}){3}$`;

/**
 * An IPv6 literal as Node's `isIP` accepts it (match case-insensitively), without a zone id (the
 * decoder rejects `%`): eight groups, or six and an IPv4 tail, or fewer around one `::` standing
 * for at least one group. Written out as alternatives because PostgreSQL cannot count groups.
 */
export const IPV6_PATTERN = ((): string => {
  const h = HEX_GROUP;
  const v4 = `${V4_OCTET}([.]${V4_OCTET}){3}`;
  const upTo = (n: number): string => (n === 0 ? "" : `((${h}:){0,${n - 1}}${h})?`);
  const alternatives = [`(${h}:){7}${h}`, `(${h}:){6}${v4}`];
  for (let right = 0; right <= 7; right++) {
    alternatives.push(`${upTo(7 - right)}::${right === 0 ? "" : `(${h}:){${right - 1}}${h}`}`);
  }
  for (let right = 0; right <= 5; right++) alternatives.push(`${upTo(5 - right)}::(${h}:){${right}}${v4}`);
  return `^(${alternatives.join("|")})$`;
})();

export const POSTGRES_DIALECT = {
  engine: "postgres",
  param: (n: number) => `$${n}`,
  strpos: (text: string, part: string) => `strpos(${text}, ${part})`,
  // source/decode.ts decodeIp: NULL, empty and '-' are unknown; anything else must be an IP literal.
  unparsableIp: (ip: string) => `${TRIMMED(ip)} NOT IN ('', '-')
      AND NOT (${TRIMMED(ip)} ~ '${IPV4_PATTERN}' OR ${TRIMMED(ip)} ~* '${IPV6_PATTERN}')`,
} as const satisfies SqlDialect;
