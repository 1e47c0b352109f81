/** The rules about a row's owner shared by every table: local, existing, not an appservice user. */
import type { MasId } from "../model/ids.ts";
import type { SynapseOwner } from "../model/synapse.ts";
import { checkUserId } from "../model/user-id.ts";
import type { MappingContext } from "./context.ts";
import type { SkipReason } from "./skip.ts";
import { creationTimeMs } from "./time.ts";

/** A row's owner, once it is known to be migrated. */
export interface MigratedOwner {
  owner: SynapseOwner;
  localpart: string;
  masUserId: MasId;
  /** The user's creation time in ms (Synapse keeps seconds), or the run's start time. */
  createdAt: number;
}

/** The MAS user id of a Synapse user: the same in every phase of a run. */
export function masUserIdOf(owner: SynapseOwner, ctx: MappingContext): MasId {
  return ctx.deriveId(userCreatedAt(owner, ctx), `user\0${owner.name}`);
}

/** `creation_ts` is in seconds; users without one (or with one out of range) get the run's start time. */
export function userCreatedAt(owner: SynapseOwner, ctx: MappingContext): number {
  return creationTimeMs(owner.creationTs) ?? ctx.startedAt;
}

/**
 * Decides whether rows owned by `userId` can be migrated at all: the id must be local and well
 * formed, the user must exist, and must not belong to an application service.
 */
export function resolveOwner(
  userId: string,
  owner: SynapseOwner | null,
  ctx: MappingContext,
): { ok: true; value: MigratedOwner } | { ok: false; reason: SkipReason } {
  const parsed = checkUserId(userId, ctx.serverName);
  if (parsed.kind === "malformed") return { ok: false, reason: "malformed_user_id" };
  if (parsed.kind === "foreign") return { ok: false, reason: "foreign_user_id" };
  if (owner === null) return { ok: false, reason: "orphan_row" };
  if (owner.appserviceId !== null) return { ok: false, reason: "appservice_user" };
  const createdAt = userCreatedAt(owner, ctx);
  return {
    ok: true,
    value: { owner, localpart: parsed.localpart, masUserId: masUserIdOf(owner, ctx), createdAt },
  };
}

/** Sessions and tokens of guests and deactivated users are not migrated. */
export function sessionOwnerSkip(owner: SynapseOwner): SkipReason | undefined {
  if (owner.deactivated) return "deactivated_user";
  if (owner.isGuest) return "guest_user";
  return undefined;
}
