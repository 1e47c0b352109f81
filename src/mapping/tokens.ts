/** Access tokens with no device (each its own session), on missing devices, and unpaired refresh tokens. */
import type { SynapseLooseToken, SynapseUnpairedRefreshToken } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { addTokens, skipTokens, tokenCreatedAt, tokenSkip } from "./devices.ts";
import { resolveOwner, sessionOwnerSkip } from "./owner.ts";
import { emptyResult, skipped, type MappingResult, type SkipReason } from "./skip.ts";

/**
 * Maps an access token that is not on an existing device. A token without a device (from before
 * devices existed, or issued by an admin) becomes its own session, with the owner's admin flag;
 * a token naming a device that does not exist is skipped (MAS would have no session for it).
 */
export function mapLooseToken(loose: SynapseLooseToken, ctx: MappingContext): MappingResult {
  const { token } = loose;
  const result = emptyResult();
  const resolved = resolveOwner(token.userId, loose.owner, ctx);
  const reason: SkipReason | undefined = !resolved.ok
    ? resolved.reason
    : (tokenSkip(token, ctx) ??
      sessionOwnerSkip(resolved.value.owner) ??
      (token.deviceId !== null ? "missing_device" : undefined));
  if (!resolved.ok || reason !== undefined) {
    skipTokens(result, [token], reason as SkipReason);
    return result;
  }
  const createdAt = tokenCreatedAt(token, ctx);
  const sessionId = ctx.deriveId(createdAt, `token-session\0${token.id}`);
  result.rows.push({
    table: "compat_sessions",
    row: {
      compatSessionId: sessionId,
      userId: resolved.value.masUserId,
      deviceId: null,
      createdAt,
      isSynapseAdmin: resolved.value.owner.admin,
      lastActiveAt: null,
      lastActiveIp: null,
      userAgent: null,
      humanName: null,
    },
  });
  result.notes.push({ entity: "access_tokens", note: "deviceless_token_own_session" });
  addTokens(result, [token], sessionId, ctx);
  return result;
}

/** A refresh token that no access token points at cannot be paired: skipped. */
export function mapUnpairedRefreshToken(refresh: SynapseUnpairedRefreshToken, ctx: MappingContext): MappingResult {
  const resolved = resolveOwner(refresh.userId, refresh.owner, ctx);
  return skipped("refresh_tokens", resolved.ok ? "no_access_token" : resolved.reason);
}
