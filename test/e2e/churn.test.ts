/**
 * The bench's churn (bench/churn.ts) on the real fixture and on a synthetic Synapse: each kind of
 * change leaves the rows Synapse would (a deactivated user without tokens, devices or emails; a
 * deleted device without its tokens; a rotated refresh token pointing at its successor...), the
 * fraction is kept, and the same seed on the same database makes the same changes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { CHURN_KINDS, churnSynapse, type ChurnExample, type ChurnKind, type ChurnSummary } from "../../bench/churn.ts";
import { syntheticSynapseSql } from "../../bench/synthetic.ts";
import { expiriesSql } from "../harness/edge-rows.ts";
import { synapseSchemaSql, synapseSmallSql } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";

const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);
const BCRYPT = /^\$2b\$12\$[./A-Za-z0-9]{53}$/;

async function churn(cluster: Cluster, db: string, fraction: number, seed: number): Promise<ChurnSummary> {
  const client = new pg.Client({ connectionString: cluster.uri(db) });
  await client.connect();
  try {
    return await churnSynapse(client, { fraction, seed, now: NOW });
  } finally {
    await client.end();
  }
}

function example(summary: ChurnSummary, kind: ChurnKind): ChurnExample {
  const first = summary.examples[kind][0];
  assert.ok(first, `an example of ${kind}`);
  return first;
}

describe("churn on the fixture", { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let summary: ChurnSummary;
  /** Rows of the fixture before the churn, for the changed users. */
  let before_: {
    hashes: Map<string, string | null>;
    emails: Map<string, string[]>;
    externalIds: Map<string, number>;
  };

  const sql = <R extends pg.QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]) =>
    cluster.sql<R>("churned", text, params);

  before(async () => {
    cluster = await startCluster();
    await cluster.createDatabase("fixture", { fromSqlFile: synapseSmallSql });
    // The fixture's refresh tokens have expired (README, "Time"); make them live, as a running Synapse's are.
    await cluster.sql("fixture", expiriesSql(NOW));
    await cluster.cloneDatabase("fixture", "churned");
    const hashes = await sql<{ name: string; password_hash: string | null }>("SELECT name, password_hash FROM users");
    const emails = await sql<{ user_id: string; addresses: string[] }>(
      "SELECT user_id, array_agg(address ORDER BY address) AS addresses FROM user_threepids WHERE medium = 'email' GROUP BY 1",
    );
    const ext = await sql<{ user_id: string; n: number }>("SELECT user_id, count(*)::int AS n FROM user_external_ids GROUP BY 1");
    before_ = {
      hashes: new Map(hashes.map((r) => [r.name, r.password_hash])),
      emails: new Map(emails.map((r) => [r.user_id, r.addresses])),
      externalIds: new Map(ext.map((r) => [r.user_id, r.n])),
    };
    // 42 active local users (50 minus 2 guests, 3 bridge users, 3 deactivated): 20% is 8.4, 1 per kind.
    summary = await churn(cluster, "churned", 0.2, 7);
  });
  after(async () => cluster?.stop());

  it("changes one user of every kind (20% of 42 active users over 11 kinds), each user once", () => {
    assert.equal(summary.population, 42);
    assert.equal(summary.perKind, 1);
    for (const kind of CHURN_KINDS) assert.equal(summary.counts[kind], 1, kind);
    assert.equal(summary.touchedUsers.length, CHURN_KINDS.length, "no user changed twice");
    const named = CHURN_KINDS.flatMap((k) => summary.examples[k].map((e) => e.userId)).sort();
    assert.deepEqual(named, summary.touchedUsers);
    assert.equal(summary.now, NOW);
  });

  it("registers a new user with a password, an email, a device and an access token", async () => {
    const { userId, deviceId } = example(summary, "newUsers");
    assert.match(userId, /^@churn-[a-z0-9]{10}:example\.com$/);
    const [user] = await sql<{ password_hash: string; creation_ts: string; deactivated: number; is_guest: number }>(
      "SELECT password_hash, creation_ts::text, deactivated, is_guest FROM users WHERE name = $1",
      [userId],
    );
    assert.ok(user);
    assert.match(user.password_hash, BCRYPT);
    assert.equal(user.creation_ts, String(Math.floor(NOW / 1000)));
    assert.deepEqual([user.deactivated, user.is_guest], [0, 0]);
    const emails = await sql<{ address: string; added_at: string }>(
      "SELECT address, added_at::text FROM user_threepids WHERE user_id = $1",
      [userId],
    );
    assert.deepEqual(emails, [{ address: `${userId.slice(1, userId.indexOf(":"))}@mail.example.org`, added_at: String(NOW) }]);
    const tokens = await sql<{ device_id: string; token: string; refresh_token_id: string | null }>(
      "SELECT a.device_id, a.token, a.refresh_token_id FROM access_tokens a JOIN devices d USING (user_id, device_id) WHERE a.user_id = $1",
      [userId],
    );
    assert.equal(tokens.length, 1);
    assert.equal(tokens[0]?.device_id, deviceId);
    assert.match(tokens[0]?.token ?? "", /^syt_[A-Za-z0-9+/]+_[A-Za-z]{20}_[0-9A-Za-z]{6}$/);
    assert.equal(tokens[0]?.refresh_token_id, null);
  });

  it("changes a password hash", async () => {
    const { userId } = example(summary, "passwordChanges");
    const [row] = await sql<{ password_hash: string }>("SELECT password_hash FROM users WHERE name = $1", [userId]);
    assert.match(row?.password_hash ?? "", BCRYPT);
    assert.notEqual(row?.password_hash, before_.hashes.get(userId));
  });

  it("deactivates a user as Synapse does: no password, tokens, visible devices or threepids; external ids kept", async () => {
    const { userId } = example(summary, "deactivations");
    assert.ok(before_.hashes.get(userId) !== undefined);
    const [user] = await sql<{ deactivated: number; password_hash: string | null }>(
      "SELECT deactivated, password_hash FROM users WHERE name = $1",
      [userId],
    );
    assert.deepEqual(user, { deactivated: 1, password_hash: null });
    const [left] = await sql<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM access_tokens WHERE user_id = $1) AS access,
              (SELECT count(*)::int FROM refresh_tokens WHERE user_id = $1) AS refresh,
              (SELECT count(*)::int FROM devices WHERE user_id = $1 AND hidden = false) AS devices,
              (SELECT count(*)::int FROM user_threepids WHERE user_id = $1) AS threepids,
              (SELECT count(*)::int FROM user_external_ids WHERE user_id = $1) AS external,
              (SELECT count(*)::int FROM users_pending_deactivation WHERE user_id = $1) AS pending`,
      [userId],
    );
    assert.deepEqual(left, {
      access: 0,
      refresh: 0,
      devices: 0,
      threepids: 0,
      external: before_.externalIds.get(userId) ?? 0,
      pending: 1,
    });
  });

  it("locks a user", async () => {
    const { userId } = example(summary, "locks");
    const [row] = await sql<{ locked: boolean }>("SELECT locked FROM users WHERE name = $1", [userId]);
    assert.equal(row?.locked, true);
  });

  it("adds a device with an access token (a login)", async () => {
    const { userId, deviceId } = example(summary, "newDevices");
    const rows = await sql<{ display_name: string; hidden: boolean; last_validated: string }>(
      `SELECT d.display_name, d.hidden, a.last_validated::text FROM devices d JOIN access_tokens a USING (user_id, device_id)
        WHERE d.user_id = $1 AND d.device_id = $2`,
      [userId, deviceId],
    );
    assert.deepEqual(rows, [{ display_name: "Churn client", hidden: false, last_validated: String(NOW) }]);
  });

  it("deletes a device with its access and refresh tokens", async () => {
    const { userId, deviceId } = example(summary, "deletedDevices");
    const [left] = await sql<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM devices WHERE user_id = $1 AND device_id = $2) AS devices,
              (SELECT count(*)::int FROM access_tokens WHERE user_id = $1 AND device_id = $2) AS access,
              (SELECT count(*)::int FROM refresh_tokens WHERE user_id = $1 AND device_id = $2) AS refresh`,
      [userId, deviceId],
    );
    assert.deepEqual(left, { devices: 0, access: 0, refresh: 0 });
    const [existed] = await cluster.sql<{ n: number }>(
      "fixture",
      "SELECT count(*)::int AS n FROM devices WHERE user_id = $1 AND device_id = $2",
      [userId, deviceId],
    );
    assert.equal(existed?.n, 1, "the device existed before");
  });

  it("revokes an access token and keeps its device", async () => {
    const { userId, deviceId, tokenId } = example(summary, "revokedTokens");
    assert.equal((await sql("SELECT 1 FROM access_tokens WHERE id = $1", [tokenId])).length, 0);
    assert.equal((await cluster.sql("fixture", "SELECT 1 FROM access_tokens WHERE id = $1", [tokenId])).length, 1);
    assert.equal((await sql("SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2", [userId, deviceId])).length, 1);
  });

  it("adds an access token to an existing device", async () => {
    const { userId, deviceId, tokenId } = example(summary, "newTokens");
    const rows = await sql("SELECT user_id, device_id, refresh_token_id, used FROM access_tokens WHERE id = $1", [tokenId]);
    assert.deepEqual(rows, [{ user_id: userId, device_id: deviceId, refresh_token_id: null, used: false }]);
    assert.equal(
      (await cluster.sql("fixture", "SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2", [userId, deviceId])).length,
      1,
    );
  });

  it("rotates a refresh token: the old one points at the new pair, whose access token was used (the old pair is dead)", async () => {
    const { userId, deviceId, tokenId, nextTokenId, used } = example(summary, "rotatedRefreshTokens");
    assert.equal(used, true, "the first rotation's new access token is used");
    const [old] = await sql<{ next_token_id: string }>("SELECT next_token_id::text FROM refresh_tokens WHERE id = $1", [tokenId]);
    assert.equal(old?.next_token_id, String(nextTokenId));
    const fresh = await sql<{ user_id: string; device_id: string; expiry_ts: string; used: boolean; valid_until_ms: string }>(
      `SELECT r.user_id, r.device_id, r.expiry_ts::text, a.used, a.valid_until_ms::text
         FROM refresh_tokens r JOIN access_tokens a ON a.refresh_token_id = r.id WHERE r.id = $1`,
      [nextTokenId],
    );
    assert.deepEqual(fresh, [
      {
        user_id: userId,
        device_id: deviceId,
        expiry_ts: String(NOW + 24 * 3_600_000),
        used: true,
        valid_until_ms: String(NOW + 300_000),
      },
    ]);
    // The old pair's access token is still there (Synapse keeps the last two pairs).
    assert.equal((await sql("SELECT 1 FROM access_tokens WHERE refresh_token_id = $1", [tokenId])).length, 1);
  });

  it("changes an email: one address deleted, another added", async () => {
    const { userId } = example(summary, "changedEmails");
    const old = before_.emails.get(userId) ?? [];
    assert.equal(old.length >= 1, true);
    const now = (
      await sql<{ address: string }>("SELECT address FROM user_threepids WHERE user_id = $1 AND medium = 'email'", [userId])
    ).map((r) => r.address);
    assert.equal(now.length, old.length);
    assert.equal(now.filter((a) => !old.includes(a)).length, 1, "one new address");
    assert.equal(old.filter((a) => !now.includes(a)).length, 1, "one address gone");
  });

  it("adds a link on a provider the homeserver has", async () => {
    const { userId, provider } = example(summary, "newLinks");
    const rows = await sql<{ external_id: string }>(
      "SELECT external_id FROM user_external_ids WHERE user_id = $1 AND auth_provider = $2",
      [userId, provider],
    );
    assert.equal(rows.length, 1);
    assert.match(rows[0]?.external_id ?? "", /^churn-[a-z0-9]{16}$/);
    assert.ok(provider === "oidc-keycloak" || provider === "oidc-github");
  });

  it("makes the same changes for the same seed, and others for another seed", async () => {
    await cluster.cloneDatabase("fixture", "again");
    await cluster.cloneDatabase("fixture", "other");
    const again = await churn(cluster, "again", 0.2, 7);
    assert.deepEqual(again, summary);
    assert.equal(await cluster.dump("again"), await cluster.dump("churned"));
    const other = await churn(cluster, "other", 0.2, 8);
    assert.notDeepEqual(other.touchedUsers, summary.touchedUsers);
  });

  it("churns the churned database again without a collision (new names, tokens and ids)", async () => {
    await cluster.cloneDatabase("churned", "twice");
    const second = await churn(cluster, "twice", 0.2, 7);
    for (const kind of CHURN_KINDS) assert.equal(second.counts[kind], 1, kind);
    assert.notEqual(example(second, "newUsers").userId, example(summary, "newUsers").userId);
  });
});

describe("churn on a synthetic Synapse", { timeout: 300_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
    await cluster.createDatabase("synthetic", { fromSqlFile: synapseSchemaSql });
    await cluster.sql("synthetic", syntheticSynapseSql(5000));
  });
  after(async () => cluster?.stop());

  it("at 1% of 5000 users: 4 users of each kind, about 1% of the active users touched", async () => {
    const before_ = await cluster.sql<{ users: number; deactivated: number; locked: number }>(
      "synthetic",
      "SELECT count(*)::int AS users, count(*) FILTER (WHERE deactivated = 1)::int AS deactivated, count(*) FILTER (WHERE locked)::int AS locked FROM users",
    );
    const summary = await churn(cluster, "synthetic", 0.01, 1);
    // 5000 users, per 100: 2 guests, 1 application-service user, 1 deactivated: 4800 active.
    assert.equal(summary.population, 4800);
    assert.equal(summary.perKind, 4);
    for (const kind of CHURN_KINDS) assert.equal(summary.counts[kind], 4, kind);
    const share = summary.touchedUsers.length / summary.population;
    assert.ok(share > 0.008 && share < 0.012, `touched ${summary.touchedUsers.length} of ${summary.population}`);
    const [after_] = await cluster.sql<{ users: number; deactivated: number; locked: number }>(
      "synthetic",
      "SELECT count(*)::int AS users, count(*) FILTER (WHERE deactivated = 1)::int AS deactivated, count(*) FILTER (WHERE locked)::int AS locked FROM users",
    );
    assert.deepEqual(after_, {
      users: (before_[0]?.users ?? 0) + 4,
      deactivated: (before_[0]?.deactivated ?? 0) + 4,
      locked: (before_[0]?.locked ?? 0) + 4,
    });
    // Both rotations whose access token was used and ones that were not.
    assert.deepEqual(
      summary.examples.rotatedRefreshTokens.map((e) => e.used),
      [true, false, true, false],
    );
    // Links spread over the two providers the synthetic database has.
    assert.deepEqual(summary.examples.newLinks.map((e) => e.provider).sort(), [
      "oidc-github",
      "oidc-github",
      "oidc-keycloak",
      "oidc-keycloak",
    ]);
  });
});
