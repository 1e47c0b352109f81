import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { UserError } from "../errors/user-error.ts";
import { ulidTextToUuid } from "../model/ids.ts";
import { linkSubject, subjectValues } from "../model/link-rule.ts";
import { parseLinkFlag } from "./link-rules.ts";

const ULID = "01JBZ3Q5K0V8W4YF8E2C9M7T6D";
const PROVIDER = ulidTextToUuid(ULID);
const ALICE = subjectValues("@alice:example.com", "alice.uid");

describe("--link SOURCE=MAS_PROVIDER_ULID[:SUBJECT]", () => {
  const subjects: [string, string][] = [
    [`cas=${ULID}`, "alice.uid"],
    [`localpart=${ULID}`, "alice"],
    [`saml=${ULID}:{external_id}`, "alice.uid"],
    [`saml=${ULID}:uid={external_id},ou=people`, "uid=alice.uid,ou=people"],
    [`localpart=${ULID}:{user_id}`, "@alice:example.com"],
    [`oidc-github=${ULID}:gh|{external_id}`, "gh|alice.uid"],
    // Dex's encoding of the filled template for the connector (documented form: user id then connector id).
    [`saml=${ULID}:dex:saml:{external_id}`, Buffer.from("\x0a\x09alice.uid\x12\x04saml", "latin1").toString("base64url")],
    [`localpart=${ULID}:dex:ldap`, Buffer.from("\x0a\x05alice\x12\x04ldap", "latin1").toString("base64url")],
  ];
  for (const [flag, subject] of subjects) {
    it(`${flag} gives alice the subject ${subject}`, () => {
      const rule = parseLinkFlag(flag);
      assert.equal(rule.providerId, PROVIDER);
      assert.equal(linkSubject(rule, ALICE), subject);
    });
  }

  it("keeps the source as given", () => {
    assert.equal(parseLinkFlag(`oidc-keycloak=${ULID}`).source, "oidc-keycloak");
    assert.equal(parseLinkFlag(`localpart=${ULID}`).source, "localpart");
  });

  const bad: [string, RegExp][] = [
    [ULID, /no SOURCE=/],
    [`=${ULID}`, /no SOURCE=/],
    ["saml=not-a-ulid", /is not a provider's 26-character ULID/],
    [`saml=${ULID}:{name}`, /unknown placeholder \{name\}/],
    [`saml=${ULID}:fixed`, /no placeholder/],
    [`saml=${ULID}:{external_id`, /brace outside a placeholder/],
    [`saml=${ULID}:dex::{external_id}`, /needs a connector id/],
    [`localpart=${ULID}:{external_id}`, /localpart users have no external id/],
  ];
  for (const [flag, message] of bad) {
    it(`refuses ${JSON.stringify(flag)} with one line naming the flag`, () => {
      assert.throws(
        () => parseLinkFlag(flag),
        (error: unknown) =>
          error instanceof UserError && message.test(error.message) && error.message.includes(`--link "${flag}"`),
      );
    });
  }
});

describe("subjectValues: what a template is filled with", () => {
  const cases: [string, string | undefined, { external_id: string; localpart: string; user_id: string }][] = [
    ["@alice:example.com", "alice.uid", { external_id: "alice.uid", localpart: "alice", user_id: "@alice:example.com" }],
    ["@ldap.ann:example.com", undefined, { external_id: "", localpart: "ldap.ann", user_id: "@ldap.ann:example.com" }],
    // Split at the first colon, as user ids are: a server with a port keeps it.
    ["@zo=c3=ab:example.com:8448", "zoë", { external_id: "zoë", localpart: "zo=c3=ab", user_id: "@zo=c3=ab:example.com:8448" }],
  ];
  for (const [userId, externalId, values] of cases) {
    it(`${userId}${externalId === undefined ? "" : ` with ${externalId}`}`, () => {
      assert.deepEqual(subjectValues(userId, externalId), values);
    });
  }
});
