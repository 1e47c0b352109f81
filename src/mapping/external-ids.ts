/** `user_external_ids` -> MAS `upstream_oauth_links`. */
import { linkSubject } from "../model/link-rule.ts";
import type { SynapseExternalId } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { resolveOwner } from "./owner.ts";
import { skipped, type MappingResult } from "./skip.ts";

/** The provider and subject of an external id's link: a `--link` rule's for its `auth_provider`, else the mapped provider and the id itself. */
function linkTarget(externalId: SynapseExternalId, localpart: string, ctx: MappingContext) {
  const rule = ctx.links?.get(externalId.authProvider);
  if (rule !== undefined) {
    const values = { external_id: externalId.externalId, localpart, user_id: externalId.userId };
    return { providerId: rule.providerId, subject: linkSubject(rule, values) };
  }
  const providerId = ctx.providers.get(externalId.authProvider);
  return providerId === undefined ? undefined : { providerId, subject: externalId.externalId };
}

/** Maps one external id onto the MAS provider configured (or linked with `--link`) for its Synapse `auth_provider`. */
export function mapExternalId(externalId: SynapseExternalId, ctx: MappingContext): MappingResult {
  const resolved = resolveOwner(externalId.userId, externalId.owner, ctx);
  if (!resolved.ok) return skipped("external_ids", resolved.reason);
  const target = linkTarget(externalId, resolved.value.localpart, ctx);
  if (target === undefined) return skipped("external_ids", "unmapped_provider");
  const { masUserId, createdAt } = resolved.value;
  return {
    rows: [
      {
        table: "upstream_oauth_links",
        row: {
          upstreamOauthLinkId: ctx.deriveId(createdAt, `link\0${externalId.authProvider}\0${externalId.externalId}`),
          upstreamOauthProviderId: target.providerId,
          userId: masUserId,
          subject: target.subject,
          createdAt,
        },
      },
    ],
    skips: [],
    notes: [],
    linkSources: [externalId.authProvider],
  };
}
