import { describe, it } from "node:test";
import type { MasId } from "../model/ids.ts";
import type { LinkRule, Placeholder } from "../model/link-rule.ts";
import type { SynapseExternalId } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { mapExternalId } from "./external-ids.ts";
import {
  ALICE_CREATED_MS,
  KEYCLOAK_PROVIDER_ID,
  STARTED_AT,
  assertMapped,
  externalId,
  mappedUserId,
  owner,
  testContext,
  type Expected,
} from "../../test/builders.ts";

const SAML_PROVIDER_ID = "01966371-d11c-2ec1-d3e8-55b61669b48c" as MasId;
const LINK_PROVIDER_ID = "0196a000-0000-7000-8000-000000000001" as MasId;

/** A parsed --link rule: `template` split at its placeholders, as config/link-rules.ts parses it. */
function rule(source: string, template: string, dexConnector?: string): LinkRule {
  const parts: LinkRule["template"] = template
    .split(/(\{[a-z_]+\})/)
    .filter((p) => p !== "")
    .map((p) => (p.startsWith("{") ? { placeholder: p.slice(1, -1) as Placeholder } : p));
  return { source, providerId: LINK_PROVIDER_ID, template: parts, ...(dexConnector ? { dexConnector } : {}), flag: "test" };
}
const aliceId = mappedUserId(owner());

const aliceLink = {
  upstreamOauthLinkId: "#0",
  upstreamOauthProviderId: KEYCLOAK_PROVIDER_ID,
  userId: aliceId,
  subject: "5b1c9e4e-2c7e-4f7c-9b1a-0d8f6f0a1c2e",
  createdAt: ALICE_CREATED_MS,
};

const cases: { name: string; input: SynapseExternalId; ctx?: MappingContext; expect: Expected }[] = [
  {
    name: "an id on a mapped provider becomes a link created with the user",
    input: externalId(),
    expect: { rows: [{ table: "upstream_oauth_links", row: aliceLink }] },
  },
  {
    name: "the subject is copied verbatim",
    input: externalId({ externalId: " Sub|ject:Ä/1 " }),
    expect: { rows: [{ table: "upstream_oauth_links", row: { ...aliceLink, subject: " Sub|ject:Ä/1 " } }] },
  },
  {
    name: "an owner without creation_ts gives a link created at the start time, on mapUser's id",
    input: externalId({ owner: owner({ creationTs: null }) }),
    expect: {
      rows: [
        {
          table: "upstream_oauth_links",
          row: { ...aliceLink, userId: mappedUserId(owner({ creationTs: null })), createdAt: STARTED_AT },
        },
      ],
    },
  },
  {
    name: "another provider mapped on the command line is used",
    input: externalId({ authProvider: "saml", externalId: "alice@idp" }),
    ctx: testContext({ providers: new Map([["saml", SAML_PROVIDER_ID]]) }),
    expect: {
      rows: [
        {
          table: "upstream_oauth_links",
          row: { ...aliceLink, upstreamOauthProviderId: SAML_PROVIDER_ID, subject: "alice@idp" },
        },
      ],
    },
  },
  {
    name: "a --link rule on the auth_provider gives its provider and the subject its template makes",
    input: externalId({ authProvider: "saml", externalId: "alice.uid" }),
    ctx: testContext({ links: new Map([["saml", rule("saml", "uid={external_id}/{localpart}/{user_id}")]]) }),
    expect: {
      rows: [
        {
          table: "upstream_oauth_links",
          row: { ...aliceLink, upstreamOauthProviderId: LINK_PROVIDER_ID, subject: "uid=alice.uid/alice/@alice:example.com" },
        },
      ],
    },
  },
  {
    name: "a --link rule with a Dex connector gives Dex's encoding of the filled template",
    input: externalId({ authProvider: "cas", externalId: "2342749" }),
    ctx: testContext({ links: new Map([["cas", rule("cas", "{external_id}", "github")]]) }),
    expect: {
      rows: [
        {
          table: "upstream_oauth_links",
          row: { ...aliceLink, upstreamOauthProviderId: LINK_PROVIDER_ID, subject: "CgcyMzQyNzQ5EgZnaXRodWI" },
        },
      ],
    },
  },
  {
    name: "a --link rule wins over the provider mapped for the same auth_provider",
    input: externalId(),
    ctx: testContext({ links: new Map([["oidc-keycloak", rule("oidc-keycloak", "kc:{external_id}")]]) }),
    expect: {
      rows: [
        {
          table: "upstream_oauth_links",
          row: { ...aliceLink, upstreamOauthProviderId: LINK_PROVIDER_ID, subject: `kc:${aliceLink.subject}` },
        },
      ],
    },
  },
  {
    name: "a --link rule for another auth_provider changes nothing",
    input: externalId(),
    ctx: testContext({ links: new Map([["saml", rule("saml", "{external_id}")]]) }),
    expect: { rows: [{ table: "upstream_oauth_links", row: aliceLink }] },
  },
  {
    name: "an unmapped provider is a counted skip",
    input: externalId({ authProvider: "oidc-github" }),
    expect: { skips: [{ entity: "external_ids", reason: "unmapped_provider" }] },
  },
  {
    name: "the legacy oidc provider is unmapped unless configured",
    input: externalId({ authProvider: "oidc" }),
    expect: { skips: [{ entity: "external_ids", reason: "unmapped_provider" }] },
  },
  {
    name: "an external id of a deactivated guest admin is migrated",
    input: externalId({ owner: owner({ deactivated: true, isGuest: true, admin: true }) }),
    expect: { rows: [{ table: "upstream_oauth_links", row: aliceLink }] },
  },
  {
    name: "an external id of an application-service user is skipped",
    input: externalId({ owner: owner({ name: "@bridge:example.com", appserviceId: "bridge" }) }),
    expect: { skips: [{ entity: "external_ids", reason: "appservice_user" }] },
  },
  {
    name: "an external id of another server's user is skipped",
    input: externalId({ owner: owner({ name: "@alice:other.example.org" }) }),
    expect: { skips: [{ entity: "external_ids", reason: "foreign_user_id" }] },
  },
  {
    name: "an external id of a malformed user id is skipped",
    input: externalId({ owner: owner({ name: "alice" }) }),
    expect: { skips: [{ entity: "external_ids", reason: "malformed_user_id" }] },
  },
  {
    name: "an external id without a users row is skipped as an orphan",
    input: externalId({ owner: null }),
    expect: { skips: [{ entity: "external_ids", reason: "orphan_row" }] },
  },
];

describe("mapExternalId", () => {
  for (const c of cases) {
    it(c.name, () => assertMapped(mapExternalId(c.input, c.ctx ?? testContext()), c.expect));
  }
});
