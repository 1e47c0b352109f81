/** Synapse's storage quirks, decoded in one place: numeric flags, bigint strings, `-` for unknown IPs. */
import { isIP } from "node:net";
import type { SynapseAccessToken, SynapseDevice, SynapseOwner } from "../model/synapse.ts";

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

/** The owner columns every reader joins from `users` (prefixed `o_`), or null when no user row matched. */
export function decodeOwner(row: Record<string, RawValue>): SynapseOwner | null {
  if (row.o_name === null || row.o_name === undefined) return null;
  return {
    name: String(row.o_name),
    creationTs: decodeInt(row.o_creation_ts),
    admin: decodeFlag(row.o_admin),
    isGuest: decodeFlag(row.o_is_guest),
    deactivated: decodeFlag(row.o_deactivated),
    appserviceId: decodeText(row.o_appservice_id) || null,
  };
}

/**
 * An access token from the token columns every reader selects (prefixed `a_`, and `r_` for its
 * refresh token), whichever database they came from.
 */
export function decodeToken(row: Record<string, RawValue>): SynapseAccessToken {
  return {
    id: Number(row.a_id),
    userId: String(row.a_user_id),
    deviceId: decodeText(row.a_device_id),
    token: String(row.a_token),
    validUntilMs: decodeInt(row.a_valid_until_ms),
    puppetsUserId: decodeText(row.a_puppets_user_id),
    lastValidated: decodeInt(row.a_last_validated),
    refresh:
      row.r_id === null || row.r_id === undefined
        ? null
        : { id: Number(row.r_id), token: String(row.r_token), supersededAndUsed: decodeBool(row.r_superseded_and_used) },
  };
}

/** A device (without its tokens yet) from the device and owner columns every reader selects. */
export function decodeDevice(row: Record<string, RawValue>): SynapseDevice {
  const { ip, unparsable } = decodeIp(row.ip);
  return {
    userId: String(row.user_id),
    owner: decodeOwner(row),
    deviceId: String(row.device_id),
    displayName: decodeText(row.display_name),
    lastSeen: decodeInt(row.last_seen),
    ip,
    ipUnparsable: unparsable,
    userAgent: decodeText(row.user_agent),
    hidden: decodeBool(row.hidden),
    tokens: [],
  };
}
