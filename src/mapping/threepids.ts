/** `user_threepids` -> MAS `user_emails` (email) or `user_unsupported_third_party_ids` (anything else). */
import type { SynapseThreepid } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { resolveOwner } from "./owner.ts";
import { skipped, type Entity, type MappingResult } from "./skip.ts";
import { isMasTime } from "./time.ts";

/** Maps one third-party id. Non-email ids of deactivated users are dropped, as MAS would delete them. */
export function mapThreepid(threepid: SynapseThreepid, ctx: MappingContext): MappingResult {
  const entity: Entity = threepid.medium === "email" ? "emails" : "unsupported_threepids";
  const resolved = resolveOwner(threepid.userId, threepid.owner, ctx);
  if (!resolved.ok) return skipped(entity, resolved.reason);
  const { masUserId, owner } = resolved.value;
  // An added_at out of range is unknown: the id cannot be older than its user, so it takes the user's time.
  const addedAt = isMasTime(threepid.addedAt) ? threepid.addedAt : resolved.value.createdAt;
  if (entity === "emails") {
    return {
      rows: [
        {
          table: "user_emails",
          row: {
            userEmailId: ctx.deriveId(addedAt, `email\0${threepid.address}`),
            userId: masUserId,
            email: threepid.address,
            createdAt: addedAt,
            confirmedAt: addedAt,
          },
        },
      ],
      skips: [],
      notes: [],
    };
  }
  if (owner.deactivated) return skipped(entity, "deactivated_user");
  return {
    rows: [
      {
        table: "user_unsupported_third_party_ids",
        row: { userId: masUserId, medium: threepid.medium, address: threepid.address, createdAt: addedAt },
      },
    ],
    skips: [],
    notes: [],
  };
}
