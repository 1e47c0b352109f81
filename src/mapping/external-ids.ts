/** `user_external_ids` -> MAS `upstream_oauth_links`. */
import type { SynapseExternalId } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { resolveOwner } from "./owner.ts";
import { skipped, type MappingResult } from "./skip.ts";

/** Maps one external id onto the MAS provider configured for its Synapse `auth_provider`. */
export function mapExternalId(externalId: SynapseExternalId, ctx: MappingContext): MappingResult {
  const resolved = resolveOwner(externalId.userId, externalId.owner, ctx);
  if (!resolved.ok) return skipped("external_ids", resolved.reason);
  const providerId = ctx.providers.get(externalId.authProvider);
  if (providerId === undefined) return skipped("external_ids", "unmapped_provider");
  const { masUserId, createdAt } = resolved.value;
  return {
    rows: [
      {
        table: "upstream_oauth_links",
        row: {
          upstreamOauthLinkId: ctx.deriveId(createdAt, `link\0${externalId.authProvider}\0${externalId.externalId}`),
          upstreamOauthProviderId: providerId,
          userId: masUserId,
          subject: externalId.externalId,
          createdAt,
        },
      },
    ],
    skips: [],
    notes: [],
  };
}
