import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { MasId } from "../model/ids.ts";
import type { LinkRule, Placeholder } from "../model/link-rule.ts";
import type { SynapseUser } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { mapUser } from "./users.ts";
import {
  ALICE_CREATED_MS,
  BCRYPT_HASH,
  STARTED_AT,
  assertMapped,
  ownIdOf,
  synapseUser,
  testContext,
  type Expected,
} from "../../test/builders.ts";

/** Alice's MAS row with the defaults of {@link synapseUser}, `#0` being her new id. */
const aliceRow = {
  userId: "#0",
  username: "alice",
  createdAt: ALICE_CREATED_MS,
  lockedAt: null,
  deactivatedAt: null,
  canRequestAdmin: false,
  isGuest: false,
};

/** Alice's password row: the hash verbatim, scheme version 1, created with her. */
const alicePassword = {
  userPasswordId: "#1",
  userId: "#0",
  hashedPassword: BCRYPT_HASH,
  createdAt: ALICE_CREATED_MS,
  version: 1,
};

const LDAP_PROVIDER_ID = "0196a000-0000-7000-8000-000000000002" as MasId;

/** A context with `--link localpart=<LDAP provider>:TEMPLATE` (the template's placeholders split out). */
function localpartLinked(template: string, dexConnector?: string): MappingContext {
  const parts: LinkRule["template"] = template
    .split(/(\{[a-z_]+\})/)
    .filter((p) => p !== "")
    .map((p) => (p.startsWith("{") ? { placeholder: p.slice(1, -1) as Placeholder } : p));
  const rule: LinkRule = {
    source: "localpart",
    providerId: LDAP_PROVIDER_ID,
    template: parts,
    flag: "test",
    ...(dexConnector ? { dexConnector } : {}),
  };
  return testContext({ links: new Map([["localpart", rule]]) });
}

/** Alice's link on the LDAP provider, created with her. */
function aliceLocalpartLink(subject: string) {
  return {
    upstreamOauthLinkId: "#1",
    upstreamOauthProviderId: LDAP_PROVIDER_ID,
    userId: "#0",
    subject,
    createdAt: ALICE_CREATED_MS,
  };
}

const cases: { name: string; input: SynapseUser; ctx?: MappingContext; expect: Expected }[] = [
  {
    name: "an ordinary user becomes a user and a scheme-1 password with the hash verbatim",
    input: synapseUser(),
    expect: {
      rows: [
        { table: "users", row: aliceRow },
        { table: "user_passwords", row: alicePassword },
      ],
    },
  },
  {
    name: "admin != 0 becomes can_request_admin",
    input: synapseUser({ admin: true }),
    expect: {
      rows: [
        { table: "users", row: { ...aliceRow, canRequestAdmin: true } },
        { table: "user_passwords", row: alicePassword },
      ],
    },
  },
  {
    name: "a guest is migrated with is_guest (guests have no password)",
    input: synapseUser({ name: "@123456:example.com", isGuest: true, passwordHash: null }),
    expect: {
      rows: [{ table: "users", row: { ...aliceRow, username: "123456", isGuest: true } }],
      skips: [{ entity: "passwords", reason: "no_password_hash" }],
    },
  },
  {
    name: "a deactivated user is migrated with deactivated_at = its creation time",
    input: synapseUser({ deactivated: true, passwordHash: null }),
    expect: {
      rows: [{ table: "users", row: { ...aliceRow, deactivatedAt: ALICE_CREATED_MS } }],
      skips: [{ entity: "passwords", reason: "no_password_hash" }],
    },
  },
  {
    name: "a deactivated user that still has a hash keeps its password",
    input: synapseUser({ deactivated: true }),
    expect: {
      rows: [
        { table: "users", row: { ...aliceRow, deactivatedAt: ALICE_CREATED_MS } },
        { table: "user_passwords", row: alicePassword },
      ],
    },
  },
  {
    name: "a locked user is migrated with locked_at = its creation time",
    input: synapseUser({ locked: true }),
    expect: {
      rows: [
        { table: "users", row: { ...aliceRow, lockedAt: ALICE_CREATED_MS } },
        { table: "user_passwords", row: alicePassword },
      ],
    },
  },
  {
    name: "every flag at once is carried over",
    input: synapseUser({ admin: true, isGuest: true, deactivated: true, locked: true }),
    expect: {
      rows: [
        {
          table: "users",
          row: {
            ...aliceRow,
            lockedAt: ALICE_CREATED_MS,
            deactivatedAt: ALICE_CREATED_MS,
            canRequestAdmin: true,
            isGuest: true,
          },
        },
        { table: "user_passwords", row: alicePassword },
      ],
    },
  },
  {
    name: "creation_ts in seconds becomes created_at in milliseconds",
    input: synapseUser({ creationTs: 1_234_567_890, locked: true }),
    expect: {
      rows: [
        {
          table: "users",
          row: { ...aliceRow, createdAt: 1_234_567_890_000, lockedAt: 1_234_567_890_000 },
        },
        { table: "user_passwords", row: { ...alicePassword, createdAt: 1_234_567_890_000 } },
      ],
    },
  },
  {
    name: "a NULL creation_ts becomes the migration's start time",
    input: synapseUser({ creationTs: null, deactivated: true }),
    expect: {
      rows: [
        { table: "users", row: { ...aliceRow, createdAt: STARTED_AT, deactivatedAt: STARTED_AT } },
        { table: "user_passwords", row: { ...alicePassword, createdAt: STARTED_AT } },
      ],
    },
  },
  {
    name: "a creation_ts written in milliseconds is taken as milliseconds",
    input: synapseUser({ creationTs: 1_700_000_000_000 }),
    expect: {
      rows: [
        { table: "users", row: { ...aliceRow, createdAt: 1_700_000_000_000 } },
        { table: "user_passwords", row: { ...alicePassword, createdAt: 1_700_000_000_000 } },
      ],
    },
  },
  ...[
    ["the int64 limit", Number("9223372036854775807")],
    ["a negative time", -5],
  ].map(([what, creationTs]) => ({
    name: `a creation_ts MAS cannot hold (${what}) is unknown: the migration's start time, never a crash`,
    input: synapseUser({ creationTs: creationTs as number, locked: true }),
    expect: {
      rows: [
        { table: "users" as const, row: { ...aliceRow, createdAt: STARTED_AT, lockedAt: STARTED_AT } },
        { table: "user_passwords" as const, row: { ...alicePassword, createdAt: STARTED_AT } },
      ],
    },
  })),
  {
    name: "the localpart is the username verbatim, without case folding",
    input: synapseUser({ name: "@Alice.Smith=40_x:example.com" }),
    expect: {
      rows: [
        { table: "users", row: { ...aliceRow, username: "Alice.Smith=40_x" } },
        { table: "user_passwords", row: alicePassword },
      ],
    },
  },
  {
    name: "a NULL password hash gives no password row, counted as no_password_hash",
    input: synapseUser({ passwordHash: null }),
    expect: {
      rows: [{ table: "users", row: aliceRow }],
      skips: [{ entity: "passwords", reason: "no_password_hash" }],
    },
  },
  {
    name: "an empty password hash gives no password row, counted as no_password_hash",
    input: synapseUser({ passwordHash: "" }),
    expect: {
      rows: [{ table: "users", row: aliceRow }],
      skips: [{ entity: "passwords", reason: "no_password_hash" }],
    },
  },
  ...[
    ["$2a$", "$2a$10$Q0xoG5V1K9bO8yFh3c2fUe3M4x1mYx5mRz3vJm4V9C7pN0kL2aB6u"],
    ["$2y$ at the lowest cost", "$2y$04$Q0xoG5V1K9bO8yFh3c2fUe3M4x1mYx5mRz3vJm4V9C7pN0kL2aB6u"],
    ["$2x$ at the highest cost", "$2x$31$Q0xoG5V1K9bO8yFh3c2fUe3M4x1mYx5mRz3vJm4V9C7pN0kL2aB6u"],
    ["with . and / in it", "$2b$12$./xoG5V1K9bO8yFh3c2fUe3M4x1mYx5mRz3vJm4V9C7pN0kL2aB./"],
  ].map(([what, hash]) => ({
    name: `a bcrypt hash (${what}) is copied verbatim as scheme 1`,
    input: synapseUser({ passwordHash: hash }),
    expect: {
      rows: [
        { table: "users" as const, row: aliceRow },
        { table: "user_passwords" as const, row: { ...alicePassword, hashedPassword: hash as string } },
      ],
    },
  })),
  ...[
    ["x", "x"],
    ["an argon2 hash", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"],
    ["a bcrypt hash cut short", BCRYPT_HASH.slice(0, 59)],
    ["a bcrypt hash with a trailing newline", `${BCRYPT_HASH}\n`],
    ["a bcrypt version MAS does not read", BCRYPT_HASH.replace("$2b$", "$2c$")],
    ["a cost below 4", BCRYPT_HASH.replace("$12$", "$03$")],
    ["a cost above 31", BCRYPT_HASH.replace("$12$", "$32$")],
    ["a one-digit cost", BCRYPT_HASH.replace("$12$", "$9$") + "u"],
    ["a character outside bcrypt's base64", BCRYPT_HASH.replace("Q0xo", "Q0x+")],
    ["a non-ASCII character", BCRYPT_HASH.replace("Q0xo", "Q0xé")],
    ["a SHA-512 crypt string", "$6$rounds=5000$salt$abcdefghijklmnopqrstuvwxyz"],
  ].map(([what, hash]) => ({
    name: `a hash MAS cannot verify (${what}) gives no password row, counted as unusable_password_hash; the user is migrated`,
    input: synapseUser({ passwordHash: hash }),
    expect: {
      rows: [{ table: "users" as const, row: aliceRow }],
      skips: [{ entity: "passwords" as const, reason: "unusable_password_hash" as const }],
    },
  })),
  {
    name: "an unusable hash of an application-service user counts with the owner's reason",
    input: synapseUser({ name: "@bridge_bob:example.com", appserviceId: "bridge", passwordHash: "x" }),
    expect: {
      skips: [
        { entity: "users", reason: "appservice_user" },
        { entity: "passwords", reason: "appservice_user" },
      ],
    },
  },
  {
    name: "an application-service user is skipped, and so is its password",
    input: synapseUser({ name: "@bridge_bob:example.com", appserviceId: "bridge" }),
    expect: {
      skips: [
        { entity: "users", reason: "appservice_user" },
        { entity: "passwords", reason: "appservice_user" },
      ],
    },
  },
  {
    name: "an application-service user without a hash counts no password skip",
    input: synapseUser({ name: "@bridge:example.com", appserviceId: "bridge", passwordHash: null }),
    expect: { skips: [{ entity: "users", reason: "appservice_user" }] },
  },
  {
    name: "a user of another server is skipped, and so is its password",
    input: synapseUser({ name: "@alice:other.example.org" }),
    expect: {
      skips: [
        { entity: "users", reason: "foreign_user_id" },
        { entity: "passwords", reason: "foreign_user_id" },
      ],
    },
  },
  {
    name: "a user whose server name only differs by a port is foreign",
    input: synapseUser({ name: "@alice:example.com:8448", passwordHash: null }),
    expect: { skips: [{ entity: "users", reason: "foreign_user_id" }] },
  },
  {
    name: "a user id without @ is malformed, never a crash",
    input: synapseUser({ name: "alice:example.com" }),
    expect: {
      skips: [
        { entity: "users", reason: "malformed_user_id" },
        { entity: "passwords", reason: "malformed_user_id" },
      ],
    },
  },
  {
    name: "a user id with an empty localpart is malformed",
    input: synapseUser({ name: "@:example.com", passwordHash: null }),
    expect: { skips: [{ entity: "users", reason: "malformed_user_id" }] },
  },
  {
    name: "a malformed id wins over the appservice flag",
    input: synapseUser({ name: "@bridge:", appserviceId: "bridge", passwordHash: null }),
    expect: { skips: [{ entity: "users", reason: "malformed_user_id" }] },
  },
  {
    name: "--link localpart=...: a user without an external id gets a link, its subject from the template",
    input: synapseUser(),
    ctx: localpartLinked("{localpart}@ldap"),
    expect: {
      rows: [
        { table: "users", row: aliceRow },
        { table: "upstream_oauth_links", row: aliceLocalpartLink("alice@ldap") },
        { table: "user_passwords", row: { ...alicePassword, userPasswordId: "#2" } },
      ],
    },
  },
  {
    name: "--link localpart=...:dex:ldap gives Dex's encoding of the localpart for the ldap connector",
    input: synapseUser(),
    ctx: localpartLinked("{localpart}", "ldap"),
    expect: {
      rows: [
        { table: "users", row: aliceRow },
        {
          table: "upstream_oauth_links",
          row: aliceLocalpartLink(Buffer.from("\x0a\x05alice\x12\x04ldap", "latin1").toString("base64url")),
        },
        { table: "user_passwords", row: { ...alicePassword, userPasswordId: "#2" } },
      ],
    },
  },
  {
    name: "--link localpart=...: no link for a user with an external id (its auth_provider's rule links it)",
    input: synapseUser({ hasExternalId: true }),
    ctx: localpartLinked("{localpart}"),
    expect: {
      rows: [
        { table: "users", row: aliceRow },
        { table: "user_passwords", row: alicePassword },
      ],
    },
  },
  {
    name: "--link localpart=...: no link for a deactivated user",
    input: synapseUser({ deactivated: true, passwordHash: null }),
    ctx: localpartLinked("{localpart}"),
    expect: {
      rows: [{ table: "users", row: { ...aliceRow, deactivatedAt: ALICE_CREATED_MS } }],
      skips: [{ entity: "passwords", reason: "no_password_hash" }],
    },
  },
  {
    name: "--link localpart=...: no link for a guest",
    input: synapseUser({ name: "@123456:example.com", isGuest: true, passwordHash: null }),
    ctx: localpartLinked("{localpart}"),
    expect: {
      rows: [{ table: "users", row: { ...aliceRow, username: "123456", isGuest: true } }],
      skips: [{ entity: "passwords", reason: "no_password_hash" }],
    },
  },
];

describe("mapUser", () => {
  for (const c of cases) {
    it(c.name, () => assertMapped(mapUser(c.input, c.ctx ?? testContext()), c.expect));
  }

  it("gives the same ids to the same user every time in one run", () => {
    const first = mapUser(synapseUser(), testContext());
    const second = mapUser(synapseUser(), testContext());
    assert.deepEqual(second, first);
  });

  it("gives different users and their passwords different ids", () => {
    const ids = [
      ...mapUser(synapseUser(), testContext()).rows,
      ...mapUser(synapseUser({ name: "@bob:example.com" }), testContext()).rows,
    ].map(ownIdOf);
    assert.equal(new Set(ids).size, 4);
  });

  it("gives different ids in another run (another key)", () => {
    const here = mapUser(synapseUser(), testContext()).rows[0];
    const there = mapUser(synapseUser(), testContext({ seed: "another-run" })).rows[0];
    assert.ok(here && there);
    assert.notEqual(ownIdOf(here), ownIdOf(there));
  });
});
