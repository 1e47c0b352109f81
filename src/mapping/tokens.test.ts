import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { SynapseLooseToken, SynapseUnpairedRefreshToken } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { mapLooseToken, mapUnpairedRefreshToken } from "./tokens.ts";
import {
  STARTED_AT,
  TOKEN_LAST_VALIDATED,
  accessTokenRow,
  assertMapped,
  looseToken,
  mappedUserId,
  owner,
  refreshToken,
  refreshTokenRow,
  testContext,
  unpairedRefreshToken,
  type Expected,
} from "../../test/builders.ts";

const aliceId = mappedUserId(owner());

/** The session `#0` a token without a device gets: nothing but its owner and time. */
const ownSession = {
  compatSessionId: "#0",
  userId: aliceId,
  deviceId: null,
  createdAt: TOKEN_LAST_VALIDATED,
  isSynapseAdmin: false,
  lastActiveAt: null,
  lastActiveIp: null,
  userAgent: null,
  humanName: null,
};

const ownSessionNote = { entity: "access_tokens", note: "deviceless_token_own_session" } as const;

const looseCases: {
  name: string;
  input: SynapseLooseToken;
  ctx?: MappingContext;
  expect: Expected;
  todo?: string;
}[] = [
  {
    name: "a token without a device becomes its own session with device_id NULL",
    input: looseToken(),
    expect: {
      rows: [{ table: "compat_sessions", row: ownSession }, accessTokenRow("#1")],
      notes: [ownSessionNote],
    },
  },
  {
    name: "its session's is_synapse_admin is the owner's admin flag",
    input: looseToken({}, owner({ admin: true })),
    expect: {
      rows: [{ table: "compat_sessions", row: { ...ownSession, isSynapseAdmin: true } }, accessTokenRow("#1")],
      notes: [ownSessionNote],
    },
  },
  {
    name: "a token never validated and its session are created at the start time",
    input: looseToken({ lastValidated: null }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...ownSession, createdAt: STARTED_AT } },
        accessTokenRow("#1", { createdAt: STARTED_AT }),
      ],
      notes: [ownSessionNote],
    },
  },
  {
    name: "expires_at is valid_until_ms",
    input: looseToken({ validUntilMs: 1_700_000_400_000 }),
    expect: {
      rows: [{ table: "compat_sessions", row: ownSession }, accessTokenRow("#1", { expiresAt: 1_700_000_400_000 })],
      notes: [ownSessionNote],
    },
  },
  {
    name: "an owner without creation_ts is referenced by mapUser's id",
    input: looseToken({}, owner({ creationTs: null })),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...ownSession, userId: mappedUserId(owner({ creationTs: null })) } },
        accessTokenRow("#1"),
      ],
      notes: [ownSessionNote],
    },
  },
  {
    name: "a refresh pair without a device is written on its own session",
    input: looseToken({ refresh: refreshToken() }),
    expect: {
      rows: [{ table: "compat_sessions", row: ownSession }, accessTokenRow("#1"), refreshTokenRow("#2", "#1")],
      notes: [ownSessionNote],
    },
  },
  {
    name: "a superseded-and-used refresh pair without a device is dropped, both counted",
    input: looseToken({ refresh: refreshToken({ supersededAndUsed: true }) }),
    expect: {
      skips: [
        { entity: "access_tokens", reason: "superseded_refresh_pair" },
        { entity: "refresh_tokens", reason: "superseded_refresh_pair" },
      ],
    },
  },
  {
    name: "a refresh pair without a device whose refresh token expired is dropped, both counted",
    input: looseToken({ refresh: refreshToken({ expiryTs: STARTED_AT - 1 }) }),
    expect: {
      skips: [
        { entity: "access_tokens", reason: "ended_session" },
        { entity: "refresh_tokens", reason: "ended_session" },
      ],
    },
  },
  {
    name: "an ended pair of a guest counts as ended: the token is judged before its owner's sessions",
    input: looseToken({ refresh: refreshToken({ ultimateSessionExpiryTs: STARTED_AT - 1 }) }, owner({ isGuest: true })),
    expect: {
      skips: [
        { entity: "access_tokens", reason: "ended_session" },
        { entity: "refresh_tokens", reason: "ended_session" },
      ],
    },
  },
  {
    name: "an ended pair on a device that does not exist counts as ended, before missing_device",
    input: looseToken({ deviceId: "GONE", refresh: refreshToken({ expiryTs: STARTED_AT - 1 }) }),
    expect: {
      skips: [
        { entity: "access_tokens", reason: "ended_session" },
        { entity: "refresh_tokens", reason: "ended_session" },
      ],
    },
  },
  {
    name: "a live pair without a device whose session has a hard limit ahead is migrated and noted",
    input: looseToken({ refresh: refreshToken({ ultimateSessionExpiryTs: STARTED_AT + 1 }) }),
    expect: {
      rows: [{ table: "compat_sessions", row: ownSession }, accessTokenRow("#1"), refreshTokenRow("#2", "#1")],
      notes: [ownSessionNote, { entity: "refresh_tokens", note: "session_limit_not_enforced" }],
    },
  },
  {
    name: "a token naming a device that does not exist is skipped",
    input: looseToken({ deviceId: "GONE" }),
    expect: { skips: [{ entity: "access_tokens", reason: "missing_device" }] },
  },
  {
    name: "a refresh pair on a device that does not exist is skipped, both counted",
    input: looseToken({ deviceId: "GONE", refresh: refreshToken() }),
    expect: {
      skips: [
        { entity: "access_tokens", reason: "missing_device" },
        { entity: "refresh_tokens", reason: "missing_device" },
      ],
    },
  },
  {
    name: "a puppet (impersonation) token is skipped",
    input: looseToken({ puppetsUserId: "@admin:example.com" }),
    expect: { skips: [{ entity: "access_tokens", reason: "puppet_token" }] },
  },
  {
    name: "a guest's token is skipped",
    input: looseToken({}, owner({ name: "@123:example.com", isGuest: true })),
    expect: { skips: [{ entity: "access_tokens", reason: "guest_user" }] },
  },
  {
    name: "a deactivated user's token is skipped with its refresh token",
    input: looseToken({ refresh: refreshToken() }, owner({ deactivated: true })),
    expect: {
      skips: [
        { entity: "access_tokens", reason: "deactivated_user" },
        { entity: "refresh_tokens", reason: "deactivated_user" },
      ],
    },
  },
  {
    name: "an application-service user's token is skipped",
    input: looseToken({}, owner({ name: "@bridge:example.com", appserviceId: "bridge" })),
    expect: { skips: [{ entity: "access_tokens", reason: "appservice_user" }] },
  },
  {
    name: "a token of another server's user is skipped",
    input: looseToken({}, owner({ name: "@alice:other.example.org" })),
    expect: { skips: [{ entity: "access_tokens", reason: "foreign_user_id" }] },
  },
  {
    name: "a token of a malformed user id is skipped",
    input: looseToken({}, owner({ name: "@alice" })),
    expect: { skips: [{ entity: "access_tokens", reason: "malformed_user_id" }] },
  },
  {
    name: "a token without a users row is skipped as an orphan",
    input: looseToken({}, null),
    expect: { skips: [{ entity: "access_tokens", reason: "orphan_row" }] },
  },
];

const unpairedCases: { name: string; input: SynapseUnpairedRefreshToken; ctx?: MappingContext; expect: Expected }[] = [
  {
    name: "a refresh token no access token points at is skipped",
    input: unpairedRefreshToken(),
    expect: { skips: [{ entity: "refresh_tokens", reason: "no_access_token" }] },
  },
  {
    name: "an application-service user's unpaired refresh token counts the owner's reason",
    input: unpairedRefreshToken({ owner: owner({ name: "@bridge:example.com", appserviceId: "bridge" }) }),
    expect: { skips: [{ entity: "refresh_tokens", reason: "appservice_user" }] },
  },
  {
    name: "another server's unpaired refresh token counts foreign_user_id",
    input: unpairedRefreshToken({ owner: owner({ name: "@alice:other.example.org" }) }),
    expect: { skips: [{ entity: "refresh_tokens", reason: "foreign_user_id" }] },
  },
  {
    name: "a malformed user's unpaired refresh token counts malformed_user_id",
    input: unpairedRefreshToken({ owner: owner({ name: "@:example.com" }) }),
    expect: { skips: [{ entity: "refresh_tokens", reason: "malformed_user_id" }] },
  },
  {
    name: "an unpaired refresh token without a users row counts orphan_row",
    input: unpairedRefreshToken({ owner: null }),
    expect: { skips: [{ entity: "refresh_tokens", reason: "orphan_row" }] },
  },
];

describe("mapLooseToken", () => {
  for (const c of looseCases) {
    it(c.name, c.todo === undefined ? {} : { todo: c.todo }, () =>
      assertMapped(mapLooseToken(c.input, c.ctx ?? testContext()), c.expect),
    );
  }

  it("gives two deviceless tokens of one user two sessions", () => {
    const [a] = mapLooseToken(looseToken(), testContext()).rows;
    const [b] = mapLooseToken(looseToken({ id: 102, token: "syt_other" }), testContext()).rows;
    assert.ok(a?.table === "compat_sessions" && b?.table === "compat_sessions");
    assert.notEqual(a.row.compatSessionId, b.row.compatSessionId);
    assert.equal(a.row.userId, b.row.userId);
  });
});

describe("mapUnpairedRefreshToken", () => {
  for (const c of unpairedCases) {
    it(c.name, () => assertMapped(mapUnpairedRefreshToken(c.input, c.ctx ?? testContext()), c.expect));
  }
});
