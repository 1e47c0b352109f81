import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { SynapseThreepid } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { mapThreepid } from "./threepids.ts";
import {
  ALICE_CREATED_MS,
  assertMapped,
  mappedUserId,
  owner,
  testContext,
  threepid,
  type Expected,
} from "../../test/builders.ts";

const ADDED_AT = 1_650_000_000_000;
/** The id `mapUser` gave alice: every row of hers must reference it. */
const aliceId = mappedUserId(owner());

const aliceEmail = {
  userEmailId: "#0",
  userId: aliceId,
  email: "alice@example.org",
  createdAt: ADDED_AT,
  confirmedAt: ADDED_AT,
};

const alicePhone = { userId: aliceId, medium: "msisdn", address: "447700900123", createdAt: ADDED_AT };

const cases: { name: string; input: SynapseThreepid; ctx?: MappingContext; expect: Expected }[] = [
  {
    name: "an email becomes a user email created (and confirmed) when it was added",
    input: threepid(),
    expect: { rows: [{ table: "user_emails", row: aliceEmail }] },
  },
  {
    name: "the address is copied verbatim",
    input: threepid({ address: "Alice.O'Hara+matrix@Example.ORG", addedAt: 1_650_000_000_123 }),
    expect: {
      rows: [
        {
          table: "user_emails",
          row: {
            ...aliceEmail,
            email: "Alice.O'Hara+matrix@Example.ORG",
            createdAt: 1_650_000_000_123,
            confirmedAt: 1_650_000_000_123,
          },
        },
      ],
    },
  },
  {
    name: "an added_at MAS cannot hold (the int64 limit) is unknown: the user's creation time",
    input: threepid({ addedAt: Number("9223372036854775807") }),
    expect: {
      rows: [{ table: "user_emails", row: { ...aliceEmail, createdAt: ALICE_CREATED_MS, confirmedAt: ALICE_CREATED_MS } }],
    },
  },
  {
    name: "a negative added_at of a phone number is unknown too",
    input: threepid({ medium: "msisdn", address: "447700900123", addedAt: -1 }),
    expect: { rows: [{ table: "user_unsupported_third_party_ids", row: { ...alicePhone, createdAt: ALICE_CREATED_MS } }] },
  },
  {
    name: "an msisdn becomes an unsupported third-party id",
    input: threepid({ medium: "msisdn", address: "447700900123" }),
    expect: { rows: [{ table: "user_unsupported_third_party_ids", row: alicePhone }] },
  },
  {
    name: "any other medium becomes an unsupported third-party id",
    input: threepid({ medium: "x-legacy", address: "alice#1" }),
    expect: {
      rows: [{ table: "user_unsupported_third_party_ids", row: { ...alicePhone, medium: "x-legacy", address: "alice#1" } }],
    },
  },
  {
    name: "an msisdn of a deactivated user is skipped (MAS deletes them on deactivation)",
    input: threepid({ owner: owner({ deactivated: true }), medium: "msisdn", address: "447700900123" }),
    expect: { skips: [{ entity: "unsupported_threepids", reason: "deactivated_user" }] },
  },
  {
    name: "an email of a deactivated user is migrated",
    input: threepid({ owner: owner({ deactivated: true }) }),
    expect: { rows: [{ table: "user_emails", row: aliceEmail }] },
  },
  {
    name: "an email of a guest admin is migrated",
    input: threepid({ owner: owner({ isGuest: true, admin: true }) }),
    expect: { rows: [{ table: "user_emails", row: aliceEmail }] },
  },
  {
    name: "an owner without creation_ts is referenced by the id mapUser gave it",
    input: threepid({ owner: owner({ creationTs: null }) }),
    expect: {
      rows: [{ table: "user_emails", row: { ...aliceEmail, userId: mappedUserId(owner({ creationTs: null })) } }],
    },
  },
  {
    name: "an email of an application-service user is skipped",
    input: threepid({ owner: owner({ name: "@bridge:example.com", appserviceId: "bridge" }) }),
    expect: { skips: [{ entity: "emails", reason: "appservice_user" }] },
  },
  {
    name: "an msisdn of an application-service user is skipped",
    input: threepid({ owner: owner({ name: "@bridge:example.com", appserviceId: "bridge" }), medium: "msisdn" }),
    expect: { skips: [{ entity: "unsupported_threepids", reason: "appservice_user" }] },
  },
  {
    name: "a threepid of another server's user is skipped",
    input: threepid({ owner: owner({ name: "@alice:other.example.org" }) }),
    expect: { skips: [{ entity: "emails", reason: "foreign_user_id" }] },
  },
  {
    name: "a threepid of a malformed user id is skipped",
    input: threepid({ owner: owner({ name: "@alice:" }), medium: "msisdn" }),
    expect: { skips: [{ entity: "unsupported_threepids", reason: "malformed_user_id" }] },
  },
  {
    name: "a threepid without a users row is skipped as an orphan",
    input: threepid({ userId: "@ghost:example.com", owner: null }),
    expect: { skips: [{ entity: "emails", reason: "orphan_row" }] },
  },
];

describe("mapThreepid", () => {
  for (const c of cases) {
    it(c.name, () => assertMapped(mapThreepid(c.input, c.ctx ?? testContext()), c.expect));
  }

  it("gives two addresses different ids and the same address the same id", () => {
    const id = (address: string) => mapThreepid(threepid({ address }), testContext()).rows[0];
    assert.deepEqual(id("a@example.org"), id("a@example.org"));
    assert.notDeepEqual(id("a@example.org"), id("b@example.org"));
  });
});
