import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ulidTimeMs } from "../model/ids.ts";
import type { SynapseOwner } from "../model/synapse.ts";
import { masUserIdOf, resolveOwner, sessionOwnerSkip, userCreatedAt } from "./owner.ts";
import type { SkipReason } from "./skip.ts";
import { ALICE, ALICE_CREATED_MS, STARTED_AT, mappedUserId, owner, testContext } from "../../test/builders.ts";

const ctx = testContext();

/** The migrated-owner value expected for `who`, with the id `mapUser` gives it. */
function migrated(who: SynapseOwner, localpart: string, createdAt: number): ReturnType<typeof resolveOwner> {
  return { ok: true, value: { owner: who, localpart, masUserId: mappedUserId(who), createdAt } };
}

const resolveCases: {
  name: string;
  input: { userId: string; owner: SynapseOwner | null };
  expect: ReturnType<typeof resolveOwner>;
}[] = [
  {
    name: "a local user is migrated under its localpart and mapUser's id, created in ms",
    input: { userId: ALICE, owner: owner() },
    expect: migrated(owner(), "alice", ALICE_CREATED_MS),
  },
  {
    name: "a user without creation_ts is created at the start time",
    input: { userId: ALICE, owner: owner({ creationTs: null }) },
    expect: migrated(owner({ creationTs: null }), "alice", STARTED_AT),
  },
  {
    name: "guests, admins and deactivated users are still owners (tables decide)",
    input: { userId: ALICE, owner: owner({ isGuest: true, admin: true, deactivated: true }) },
    expect: migrated(owner({ isGuest: true, admin: true, deactivated: true }), "alice", ALICE_CREATED_MS),
  },
  {
    name: "an application-service user is not",
    input: { userId: "@bridge:example.com", owner: owner({ name: "@bridge:example.com", appserviceId: "bridge" }) },
    expect: { ok: false, reason: "appservice_user" },
  },
  {
    name: "a row without a users row is an orphan",
    input: { userId: ALICE, owner: null },
    expect: { ok: false, reason: "orphan_row" },
  },
  {
    name: "another server's user is foreign, even without a users row",
    input: { userId: "@alice:other.example.org", owner: null },
    expect: { ok: false, reason: "foreign_user_id" },
  },
  {
    name: "a malformed id is malformed, even for an appservice user",
    input: { userId: "@:example.com", owner: owner({ name: "@:example.com", appserviceId: "bridge" }) },
    expect: { ok: false, reason: "malformed_user_id" },
  },
];

const sessionCases: { name: string; input: SynapseOwner; expect: SkipReason | undefined }[] = [
  { name: "an ordinary user keeps its sessions", input: owner(), expect: undefined },
  { name: "an admin keeps its sessions", input: owner({ admin: true }), expect: undefined },
  { name: "a guest's sessions are dropped", input: owner({ isGuest: true }), expect: "guest_user" },
  { name: "a deactivated user's sessions are dropped", input: owner({ deactivated: true }), expect: "deactivated_user" },
  {
    name: "a deactivated guest counts as deactivated",
    input: owner({ deactivated: true, isGuest: true }),
    expect: "deactivated_user",
  },
];

const createdCases: { name: string; input: SynapseOwner; expect: number }[] = [
  { name: "creation_ts seconds become milliseconds", input: owner({ creationTs: 1_234_567_890 }), expect: 1_234_567_890_000 },
  { name: "a NULL creation_ts becomes the start time", input: owner({ creationTs: null }), expect: STARTED_AT },
  { name: "creation_ts 0 is the epoch, not missing", input: owner({ creationTs: 0 }), expect: 0 },
];

describe("resolveOwner", () => {
  for (const c of resolveCases) {
    it(c.name, () => assert.deepEqual(resolveOwner(c.input.userId, c.input.owner, ctx), c.expect));
  }
});

describe("sessionOwnerSkip", () => {
  for (const c of sessionCases) {
    it(c.name, () => assert.equal(sessionOwnerSkip(c.input), c.expect));
  }
});

describe("userCreatedAt", () => {
  for (const c of createdCases) {
    it(c.name, () => assert.equal(userCreatedAt(c.input, ctx), c.expect));
  }
});

describe("masUserIdOf", () => {
  it("has the user's creation time as its time part", () => {
    assert.equal(ulidTimeMs(masUserIdOf(owner(), ctx)), ALICE_CREATED_MS);
    assert.equal(ulidTimeMs(masUserIdOf(owner({ creationTs: null }), ctx)), STARTED_AT);
  });

  it("is the id mapUser gives, and depends only on name and creation time", () => {
    assert.equal(masUserIdOf(owner({ admin: true, deactivated: true }), ctx), mappedUserId(owner()));
    assert.notEqual(masUserIdOf(owner({ name: "@bob:example.com" }), ctx), masUserIdOf(owner(), ctx));
  });
});
