/** `users` -> MAS `users` and `user_passwords`. */
import type { SynapseUser } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { resolveOwner } from "./owner.ts";
import { emptyResult, type MappingResult } from "./skip.ts";

/**
 * Maps one Synapse user. Guests, deactivated, locked and shadow-banned users are migrated with
 * their flags; application-service users and ids of other servers are skipped.
 * A non-empty password hash becomes a scheme-1 password, verbatim.
 */
export function mapUser(user: SynapseUser, ctx: MappingContext): MappingResult {
  const result = emptyResult();
  const hasHash = user.passwordHash !== null && user.passwordHash !== "";
  const resolved = resolveOwner(user.name, user, ctx);
  if (!resolved.ok) {
    result.skips.push({ entity: "users", reason: resolved.reason });
    if (hasHash) result.skips.push({ entity: "passwords", reason: resolved.reason });
    return result;
  }
  const { masUserId, localpart, createdAt } = resolved.value;
  result.rows.push({
    table: "users",
    row: {
      userId: masUserId,
      username: localpart,
      createdAt,
      // Synapse keeps no lock or deactivation time: the creation time is the only one known.
      lockedAt: user.locked ? createdAt : null,
      deactivatedAt: user.deactivated ? createdAt : null,
      canRequestAdmin: user.admin,
      isGuest: user.isGuest,
    },
  });
  if (hasHash) {
    result.rows.push({
      table: "user_passwords",
      row: {
        userPasswordId: ctx.deriveId(createdAt, `password\0${user.name}`),
        userId: masUserId,
        hashedPassword: user.passwordHash as string,
        createdAt,
        version: 1,
      },
    });
  } else {
    result.skips.push({ entity: "passwords", reason: "no_password_hash" });
  }
  return result;
}
