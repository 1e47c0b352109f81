import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { SynapseDevice } from "../model/synapse.ts";
import type { MappingContext } from "./context.ts";
import { mapDevice } from "./devices.ts";
import {
  DEVICE_LAST_SEEN,
  STARTED_AT,
  TOKEN_LAST_VALIDATED,
  accessToken,
  accessTokenRow,
  assertMapped,
  device,
  mappedUserId,
  owner,
  refreshToken,
  refreshTokenRow,
  testContext,
  type Expected,
} from "../../test/builders.ts";

const aliceId = mappedUserId(owner());

/** The session of the default device, `#0`, created when it was last seen. */
const session = {
  compatSessionId: "#0",
  userId: aliceId,
  deviceId: "DEVICEA",
  createdAt: DEVICE_LAST_SEEN,
  isSynapseAdmin: false,
  lastActiveAt: DEVICE_LAST_SEEN,
  lastActiveIp: "192.0.2.10",
  userAgent: "Element/1.11.0 (Android 14)",
  humanName: "Alice's phone",
};

/** A device carrying one token with a refresh token and one without: three skips when dropped. */
const twoTokens = [accessToken({ refresh: refreshToken() }), accessToken({ id: 102, token: "syt_second" })];

const cases: { name: string; input: SynapseDevice; ctx?: MappingContext; expect: Expected }[] = [
  {
    name: "a device without tokens becomes a session created when it was last seen",
    input: device(),
    expect: { rows: [{ table: "compat_sessions", row: session }] },
  },
  {
    name: "a device never seen and without tokens starts at the migration's start time",
    input: device({ lastSeen: null }),
    expect: { rows: [{ table: "compat_sessions", row: { ...session, createdAt: STARTED_AT, lastActiveAt: null } }] },
  },
  {
    name: "is_synapse_admin is the owner's admin flag",
    input: device({ owner: owner({ admin: true }) }),
    expect: { rows: [{ table: "compat_sessions", row: { ...session, isSynapseAdmin: true } }] },
  },
  {
    name: "an IPv6 address is kept",
    input: device({ ip: "2001:db8::1" }),
    expect: { rows: [{ table: "compat_sessions", row: { ...session, lastActiveIp: "2001:db8::1" } }] },
  },
  {
    name: "an unknown ip stays NULL without a note",
    input: device({ ip: null }),
    expect: { rows: [{ table: "compat_sessions", row: { ...session, lastActiveIp: null } }] },
  },
  {
    name: "an unparsable ip becomes NULL and is counted",
    input: device({ ip: null, ipUnparsable: true }),
    expect: {
      rows: [{ table: "compat_sessions", row: { ...session, lastActiveIp: null } }],
      notes: [{ entity: "devices", note: "unparsable_ip_stored_as_null" }],
    },
  },
  {
    name: "a NULL display name and user agent stay NULL",
    input: device({ displayName: null, userAgent: null }),
    expect: { rows: [{ table: "compat_sessions", row: { ...session, humanName: null, userAgent: null } }] },
  },
  {
    name: "a device of a user without creation_ts references mapUser's id",
    input: device({ owner: owner({ creationTs: null }) }),
    expect: {
      rows: [{ table: "compat_sessions", row: { ...session, userId: mappedUserId(owner({ creationTs: null })) } }],
    },
  },
  {
    name: "a token is written verbatim on the session, which starts at its last_validated",
    input: device({ tokens: [accessToken()] }),
    expect: {
      rows: [{ table: "compat_sessions", row: { ...session, createdAt: TOKEN_LAST_VALIDATED } }, accessTokenRow("#1")],
    },
  },
  {
    name: "expires_at is valid_until_ms",
    input: device({ tokens: [accessToken({ validUntilMs: 1_700_003_700_000 })] }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: TOKEN_LAST_VALIDATED } },
        accessTokenRow("#1", { expiresAt: 1_700_003_700_000 }),
      ],
    },
  },
  {
    name: "the session starts at the earliest token",
    input: device({
      tokens: [accessToken(), accessToken({ id: 102, token: "syt_older", lastValidated: 1_690_000_000_000 })],
    }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: 1_690_000_000_000 } },
        accessTokenRow("#1"),
        accessTokenRow("#2", { accessToken: "syt_older", createdAt: 1_690_000_000_000 }),
      ],
    },
  },
  {
    name: "a token never validated is created at the start time, and so is its session",
    input: device({ tokens: [accessToken({ lastValidated: null })] }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: STARTED_AT } },
        accessTokenRow("#1", { createdAt: STARTED_AT }),
      ],
    },
  },
  {
    name: "a puppet (impersonation) token is skipped and does not date the session",
    input: device({
      tokens: [
        accessToken({ id: 100, token: "syt_puppet", puppetsUserId: "@admin:example.com", lastValidated: 1_600_000_500_000 }),
        accessToken(),
      ],
    }),
    expect: {
      rows: [{ table: "compat_sessions", row: { ...session, createdAt: TOKEN_LAST_VALIDATED } }, accessTokenRow("#1")],
      skips: [{ entity: "access_tokens", reason: "puppet_token" }],
    },
  },
  {
    name: "a device with only a puppet token with a refresh token keeps its session, both tokens counted",
    input: device({ tokens: [accessToken({ puppetsUserId: "@admin:example.com", refresh: refreshToken() })] }),
    expect: {
      rows: [{ table: "compat_sessions", row: session }],
      skips: [
        { entity: "access_tokens", reason: "puppet_token" },
        { entity: "refresh_tokens", reason: "puppet_token" },
      ],
    },
  },
  {
    name: "a refresh pair is written with the refresh row on the access token and the session",
    input: device({ tokens: [accessToken({ validUntilMs: 1_700_000_400_000, refresh: refreshToken() })] }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: TOKEN_LAST_VALIDATED } },
        accessTokenRow("#1", { expiresAt: 1_700_000_400_000 }),
        refreshTokenRow("#2", "#1"),
      ],
    },
  },
  {
    name: "a refresh pair superseded by a used successor is dropped, both counted",
    input: device({ tokens: [accessToken({ refresh: refreshToken({ supersededAndUsed: true }) })] }),
    expect: {
      rows: [{ table: "compat_sessions", row: session }],
      skips: [
        { entity: "access_tokens", reason: "superseded_refresh_pair" },
        { entity: "refresh_tokens", reason: "superseded_refresh_pair" },
      ],
    },
  },
  ...[
    { what: "its refresh token expired", refresh: { expiryTs: STARTED_AT - 1 } },
    {
      what: "its session's hard limit passed",
      refresh: { expiryTs: STARTED_AT + 60_000, ultimateSessionExpiryTs: STARTED_AT - 1 },
    },
    { what: "both passed", refresh: { expiryTs: 0, ultimateSessionExpiryTs: -5 } },
  ].map(({ what, refresh }) => ({
    name: `a refresh pair whose session Synapse ended (${what}) is dropped, both counted; the device stays`,
    input: device({ tokens: [accessToken({ refresh: refreshToken(refresh) })] }),
    expect: {
      rows: [{ table: "compat_sessions" as const, row: session }],
      skips: [
        { entity: "access_tokens" as const, reason: "ended_session" as const },
        { entity: "refresh_tokens" as const, reason: "ended_session" as const },
      ],
    },
  })),
  {
    name: "a refresh pair whose expiry is exactly the migration's start is still live",
    input: device({ tokens: [accessToken({ refresh: refreshToken({ expiryTs: STARTED_AT }) })] }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: TOKEN_LAST_VALIDATED } },
        accessTokenRow("#1"),
        refreshTokenRow("#2", "#1"),
      ],
    },
  },
  {
    name: "a live pair whose session has a hard limit ahead is migrated and noted: MAS cannot enforce the limit",
    input: device({
      tokens: [
        accessToken({ refresh: refreshToken({ expiryTs: STARTED_AT + 1, ultimateSessionExpiryTs: STARTED_AT + 86_400_000 }) }),
      ],
    }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: TOKEN_LAST_VALIDATED } },
        accessTokenRow("#1"),
        refreshTokenRow("#2", "#1"),
      ],
      notes: [{ entity: "refresh_tokens", note: "session_limit_not_enforced" }],
    },
  },
  {
    name: "an ended pair does not count towards the session's start: the live token does",
    input: device({
      tokens: [
        accessToken({ lastValidated: 1_700_000_000_000, refresh: refreshToken({ expiryTs: STARTED_AT - 1 }) }),
        accessToken({
          id: 102,
          token: "syt_next",
          refresh: refreshToken({ id: 202, token: "syr_next", expiryTs: STARTED_AT + 1 }),
        }),
      ],
    }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: TOKEN_LAST_VALIDATED } },
        accessTokenRow("#1", { accessToken: "syt_next" }),
        refreshTokenRow("#2", "#1", { refreshToken: "syr_next" }),
      ],
      skips: [
        { entity: "access_tokens", reason: "ended_session" },
        { entity: "refresh_tokens", reason: "ended_session" },
      ],
    },
  },
  {
    name: "a superseded pair that also ended counts as superseded (the first reason)",
    input: device({ tokens: [accessToken({ refresh: refreshToken({ supersededAndUsed: true, expiryTs: 1 }) })] }),
    expect: {
      rows: [{ table: "compat_sessions", row: session }],
      skips: [
        { entity: "access_tokens", reason: "superseded_refresh_pair" },
        { entity: "refresh_tokens", reason: "superseded_refresh_pair" },
      ],
    },
  },
  {
    name: "an ended pair on a hidden device counts with the device's reason",
    input: device({ hidden: true, tokens: [accessToken({ refresh: refreshToken({ expiryTs: 1 }) })] }),
    expect: {
      skips: [
        { entity: "devices", reason: "hidden_device" },
        { entity: "access_tokens", reason: "hidden_device" },
        { entity: "refresh_tokens", reason: "hidden_device" },
      ],
    },
  },
  ...[
    ["the int64 limit", Number("9223372036854775807")],
    ["before 1970", -1],
  ].map(([what, lastSeen]) => ({
    name: `a last_seen MAS cannot hold (${what}) is unknown: NULL, and the session starts at the migration's start`,
    input: device({ lastSeen: lastSeen as number }),
    expect: { rows: [{ table: "compat_sessions" as const, row: { ...session, createdAt: STARTED_AT, lastActiveAt: null } }] },
  })),
  {
    name: "a valid_until_ms beyond the year 9999 is no expiry; a last_validated beyond it is unknown",
    input: device({ tokens: [accessToken({ validUntilMs: Number("9223372036854775807"), lastValidated: 253_402_300_800_000 })] }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: STARTED_AT } },
        accessTokenRow("#1", { createdAt: STARTED_AT, expiresAt: null }),
      ],
    },
  },
  {
    name: "a negative valid_until_ms stays expired (1970); a negative last_validated is unknown",
    input: device({ tokens: [accessToken({ validUntilMs: -1, lastValidated: -7 })] }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: STARTED_AT } },
        accessTokenRow("#1", { createdAt: STARTED_AT, expiresAt: 0 }),
      ],
    },
  },
  {
    name: "a rotation the client has not acknowledged keeps both pairs",
    input: device({
      tokens: [
        accessToken({ lastValidated: 1_700_000_000_000, refresh: refreshToken() }),
        accessToken({
          id: 102,
          token: "syt_next",
          lastValidated: 1_700_000_200_000,
          refresh: refreshToken({ id: 202, token: "syr_next" }),
        }),
      ],
    }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: 1_700_000_000_000 } },
        accessTokenRow("#1", { createdAt: 1_700_000_000_000 }),
        refreshTokenRow("#2", "#1", { createdAt: 1_700_000_000_000 }),
        accessTokenRow("#3", { accessToken: "syt_next", createdAt: 1_700_000_200_000 }),
        refreshTokenRow("#4", "#3", { refreshToken: "syr_next", createdAt: 1_700_000_200_000 }),
      ],
    },
  },
  {
    name: "an acknowledged rotation keeps only the new pair",
    input: device({
      tokens: [
        accessToken({ lastValidated: 1_700_000_000_000, refresh: refreshToken({ supersededAndUsed: true }) }),
        accessToken({ id: 102, token: "syt_next", refresh: refreshToken({ id: 202, token: "syr_next" }) }),
      ],
    }),
    expect: {
      rows: [
        { table: "compat_sessions", row: { ...session, createdAt: TOKEN_LAST_VALIDATED } },
        accessTokenRow("#1", { accessToken: "syt_next" }),
        refreshTokenRow("#2", "#1", { refreshToken: "syr_next" }),
      ],
      skips: [
        { entity: "access_tokens", reason: "superseded_refresh_pair" },
        { entity: "refresh_tokens", reason: "superseded_refresh_pair" },
      ],
    },
  },
  {
    name: "a hidden device (cross-signing placeholder) is skipped with all its tokens",
    input: device({ deviceId: "master signing key", hidden: true, tokens: twoTokens }),
    expect: {
      skips: [
        { entity: "devices", reason: "hidden_device" },
        { entity: "access_tokens", reason: "hidden_device" },
        { entity: "refresh_tokens", reason: "hidden_device" },
        { entity: "access_tokens", reason: "hidden_device" },
      ],
    },
  },
  {
    name: "a hidden device without tokens is skipped",
    input: device({ deviceId: "self_signing key", hidden: true }),
    expect: { skips: [{ entity: "devices", reason: "hidden_device" }] },
  },
  {
    name: "a guest's device is skipped with its tokens",
    input: device({ owner: owner({ name: "@123:example.com", isGuest: true }), tokens: twoTokens }),
    expect: {
      skips: [
        { entity: "devices", reason: "guest_user" },
        { entity: "access_tokens", reason: "guest_user" },
        { entity: "refresh_tokens", reason: "guest_user" },
        { entity: "access_tokens", reason: "guest_user" },
      ],
    },
  },
  {
    name: "a deactivated user's device is skipped with its tokens",
    input: device({ owner: owner({ deactivated: true }), tokens: [accessToken()] }),
    expect: {
      skips: [
        { entity: "devices", reason: "deactivated_user" },
        { entity: "access_tokens", reason: "deactivated_user" },
      ],
    },
  },
  {
    name: "an application-service user's device is skipped with its tokens",
    input: device({ owner: owner({ name: "@bridge:example.com", appserviceId: "bridge" }), tokens: twoTokens }),
    expect: {
      skips: [
        { entity: "devices", reason: "appservice_user" },
        { entity: "access_tokens", reason: "appservice_user" },
        { entity: "refresh_tokens", reason: "appservice_user" },
        { entity: "access_tokens", reason: "appservice_user" },
      ],
    },
  },
  {
    name: "a device of another server's user is skipped",
    input: device({ owner: owner({ name: "@alice:other.example.org" }), tokens: [accessToken()] }),
    expect: {
      skips: [
        { entity: "devices", reason: "foreign_user_id" },
        { entity: "access_tokens", reason: "foreign_user_id" },
      ],
    },
  },
  {
    name: "a device of a malformed user id is skipped",
    input: device({ owner: owner({ name: "@a" }) }),
    expect: { skips: [{ entity: "devices", reason: "malformed_user_id" }] },
  },
  {
    name: "a device without a users row is skipped as an orphan",
    input: device({ owner: null, tokens: [accessToken({ refresh: refreshToken() })] }),
    expect: {
      skips: [
        { entity: "devices", reason: "orphan_row" },
        { entity: "access_tokens", reason: "orphan_row" },
        { entity: "refresh_tokens", reason: "orphan_row" },
      ],
    },
  },
];

describe("mapDevice", () => {
  for (const c of cases) {
    it(c.name, () => assertMapped(mapDevice(c.input, c.ctx ?? testContext()), c.expect));
  }

  it("gives the same device of two users two sessions", () => {
    const [a] = mapDevice(device(), testContext()).rows;
    const [b] = mapDevice(device({ owner: owner({ name: "@bob:example.com" }) }), testContext()).rows;
    assert.ok(a?.table === "compat_sessions" && b?.table === "compat_sessions");
    assert.notEqual(a.row.compatSessionId, b.row.compatSessionId);
    assert.notEqual(a.row.userId, b.row.userId);
  });
});
