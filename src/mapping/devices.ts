/** `devices` with their `access_tokens` and `refresh_tokens` -> MAS compat sessions and tokens. */
import type { MasId } from "../model/ids.ts";
import type { MasRow } from "../model/mas.ts";
import type { SynapseAccessToken, SynapseDevice, SynapseRefreshToken } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { resolveOwner, sessionOwnerSkip } from "./owner.ts";
import { emptyResult, type MappingResult, type SkipReason } from "./skip.ts";
import { expiryTime, knownTime } from "./time.ts";

/** A token's creation time: Synapse only keeps when it was last validated (unknown: the run's start). */
export function tokenCreatedAt(token: SynapseAccessToken, ctx: MappingContext): number {
  return knownTime(token.lastValidated) ?? ctx.startedAt;
}

/** Counts a device's tokens (and their refresh tokens) as skipped for `reason`. */
export function skipTokens(result: MappingResult, tokens: SynapseAccessToken[], reason: SkipReason): void {
  for (const token of tokens) {
    result.skips.push({ entity: "access_tokens", reason });
    if (token.refresh) result.skips.push({ entity: "refresh_tokens", reason });
  }
}

/**
 * Synapse has ended the session of this refresh token by `now` (ms): the token expired, or the
 * session's hard limit passed. MAS's compat refresh tokens never expire, so such a pair must stay behind.
 */
export function sessionEnded(refresh: SynapseRefreshToken, now: number): boolean {
  return (
    (refresh.expiryTs !== null && refresh.expiryTs < now) ||
    (refresh.ultimateSessionExpiryTs !== null && refresh.ultimateSessionExpiryTs < now)
  );
}

/** Why a token on a kept session is not migrated, if it is not. */
export function tokenSkip(token: SynapseAccessToken, ctx: MappingContext): SkipReason | undefined {
  if (token.puppetsUserId !== null) return "puppet_token";
  // The client already moved to the next refresh token and used it: this pair is dead.
  if (token.refresh?.supersededAndUsed) return "superseded_refresh_pair";
  if (token.refresh && sessionEnded(token.refresh, ctx.now ?? ctx.startedAt)) return "ended_session";
  return undefined;
}

/**
 * Adds the rows of kept tokens on session `sessionId`, noting refresh tokens whose session has a
 * hard limit still ahead: MAS cannot enforce it.
 */
export function addTokens(result: MappingResult, tokens: SynapseAccessToken[], sessionId: MasId, ctx: MappingContext): void {
  for (const token of tokens) {
    result.rows.push(...tokenRows(token, sessionId, ctx));
    if (token.refresh?.ultimateSessionExpiryTs != null) {
      result.notes.push({ entity: "refresh_tokens", note: "session_limit_not_enforced" });
    }
  }
}

/** The MAS rows of one kept token (and its refresh token) on session `sessionId`. */
export function tokenRows(token: SynapseAccessToken, sessionId: MasId, ctx: MappingContext): MasRow[] {
  const createdAt = tokenCreatedAt(token, ctx);
  const accessTokenId = ctx.deriveId(createdAt, `access\0${token.id}`);
  const rows: MasRow[] = [
    {
      table: "compat_access_tokens",
      row: {
        compatAccessTokenId: accessTokenId,
        compatSessionId: sessionId,
        accessToken: token.token,
        createdAt,
        expiresAt: expiryTime(token.validUntilMs),
      },
    },
  ];
  if (token.refresh) {
    rows.push({
      table: "compat_refresh_tokens",
      row: {
        compatRefreshTokenId: ctx.deriveId(createdAt, `refresh\0${token.refresh.id}`),
        compatSessionId: sessionId,
        compatAccessTokenId: accessTokenId,
        refreshToken: token.refresh.token,
        createdAt,
      },
    });
  }
  return rows;
}

/**
 * Maps one device and all its tokens: one compat session (unless the device is hidden or its
 * owner is a guest, deactivated or an application service), then every kept token on it.
 * The session starts at its earliest kept token, else when the device was last seen.
 */
export function mapDevice(device: SynapseDevice, ctx: MappingContext): MappingResult {
  const result = emptyResult();
  const resolved = resolveOwner(device.userId, device.owner, ctx);
  const reason: SkipReason | undefined = !resolved.ok
    ? resolved.reason
    : (sessionOwnerSkip(resolved.value.owner) ?? (device.hidden ? "hidden_device" : undefined));
  if (!resolved.ok || reason !== undefined) {
    result.skips.push({ entity: "devices", reason: reason as SkipReason });
    skipTokens(result, device.tokens, reason as SkipReason);
    return result;
  }
  const kept: SynapseAccessToken[] = [];
  for (const token of device.tokens) {
    const skip = tokenSkip(token, ctx);
    if (skip === undefined) kept.push(token);
    else skipTokens(result, [token], skip);
  }
  const lastSeen = knownTime(device.lastSeen);
  const createdAt = kept.length > 0 ? Math.min(...kept.map((t) => tokenCreatedAt(t, ctx))) : (lastSeen ?? ctx.startedAt);
  const sessionId = ctx.deriveId(createdAt, `device\0${device.userId}\0${device.deviceId}`);
  const { owner, masUserId } = resolved.value;
  result.rows.push({
    table: "compat_sessions",
    row: {
      compatSessionId: sessionId,
      userId: masUserId,
      deviceId: device.deviceId,
      createdAt,
      isSynapseAdmin: owner.admin,
      lastActiveAt: lastSeen,
      lastActiveIp: device.ip,
      userAgent: device.userAgent,
      humanName: device.displayName,
    },
  });
  if (device.ipUnparsable) result.notes.push({ entity: "devices", note: "unparsable_ip_stored_as_null" });
  addTokens(result, kept, sessionId, ctx);
  return result;
}
