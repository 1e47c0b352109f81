/** `users` -> MAS `users` and `user_passwords`. */
import { LINK_FILE_SOURCE, LOCALPART_SOURCE, linkSubject, subjectValues } from "../model/link-rule.ts";
import type { MasId } from "../model/ids.ts";
import { isUsableBcryptHash } from "../model/password-hash.ts";
import type { SynapseUser } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { linkRow } from "./external-ids.ts";
import { resolveOwner } from "./owner.ts";
import { emptyResult, type MappingResult } from "./skip.ts";

/**
 * Maps one Synapse user. Guests, deactivated, locked and shadow-banned users are migrated with
 * their flags; application-service users and ids of other servers are skipped.
 * A password hash MAS can verify (bcrypt) becomes a scheme-1 password, verbatim; any other
 * non-empty hash is left behind and counted, as a password row no one could log in with.
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
  const link = (source: string, key: string, target: { providerId: MasId; subject: string }): void => {
    result.rows.push(linkRow(ctx, resolved.value, key, target));
    (result.linkSources ??= []).push(source);
  };
  const localpartRule = ctx.links?.get(LOCALPART_SOURCE);
  // --link localpart=...: the users an LDAP or password module, or JWT, knew only by their localpart.
  if (localpartRule !== undefined && !user.isGuest && !user.deactivated && !user.hasExternalId) {
    const subject = linkSubject(localpartRule, subjectValues(user.name));
    link(LOCALPART_SOURCE, `link\0${LOCALPART_SOURCE}\0${user.name}`, { providerId: localpartRule.providerId, subject });
  }
  // --link-file: the operator's own links, for any migrated user the file names.
  for (const row of ctx.fileLinks?.byUser.get(user.name) ?? []) {
    link(LINK_FILE_SOURCE, `link\0${LINK_FILE_SOURCE}\0${row.providerId}\0${row.subject}`, row);
  }
  if (!hasHash) {
    result.skips.push({ entity: "passwords", reason: "no_password_hash" });
  } else if (!isUsableBcryptHash(user.passwordHash as string)) {
    result.skips.push({ entity: "passwords", reason: "unusable_password_hash" });
  } else {
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
  }
  return result;
}
