/** `user_external_ids` -> MAS `upstream_oauth_links`. */
import { linkSubject, subjectValues } from "../model/link-rule.ts";
import type { MasId } from "../model/ids.ts";
import type { MasRow } from "../model/mas.ts";
import type { SynapseExternalId } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { resolveOwner, type MigratedOwner } from "./owner.ts";
import { skipped, type MappingResult } from "./skip.ts";

/** The provider and subject of an external id's link: a `--link` rule's for its `auth_provider`, else the mapped provider and the id itself. */
function linkTarget(externalId: SynapseExternalId, ctx: MappingContext) {
  const rule = ctx.links?.get(externalId.authProvider);
  if (rule !== undefined) {
    return { providerId: rule.providerId, subject: linkSubject(rule, subjectValues(externalId.userId, externalId.externalId)) };
  }
  const providerId = ctx.providers.get(externalId.authProvider);
  return providerId === undefined ? undefined : { providerId, subject: externalId.externalId };
}

/**
 * The `upstream_oauth_links` row linking `owner` to `providerId` with `subject`, for every kind of
 * link (external ids here, `--link localpart` and `--link-file` in users.ts): its id has the user's
 * creation time and a hash of `key`, the link's natural key in Synapse.
 */
export function linkRow(
  ctx: MappingContext,
  owner: Pick<MigratedOwner, "masUserId" | "createdAt">,
  key: string,
  target: { providerId: MasId; subject: string },
): MasRow {
  return {
    table: "upstream_oauth_links",
    row: {
      upstreamOauthLinkId: ctx.deriveId(owner.createdAt, key),
      upstreamOauthProviderId: target.providerId,
      userId: owner.masUserId,
      subject: target.subject,
      createdAt: owner.createdAt,
    },
  };
}

/** Maps one external id onto the MAS provider configured (or linked with `--link`) for its Synapse `auth_provider`. */
export function mapExternalId(externalId: SynapseExternalId, ctx: MappingContext): MappingResult {
  const resolved = resolveOwner(externalId.userId, externalId.owner, ctx);
  if (!resolved.ok) return skipped("external_ids", resolved.reason);
  const target = linkTarget(externalId, ctx);
  if (target === undefined) return skipped("external_ids", "unmapped_provider");
  return {
    rows: [linkRow(ctx, resolved.value, `link\0${externalId.authProvider}\0${externalId.externalId}`, target)],
    skips: [],
    notes: [],
    linkSources: [externalId.authProvider],
  };
}
