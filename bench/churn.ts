/**
 * Churn on a running Synapse: what a homeserver's users do between an online migration's copy and its
 * cut-over. On a PostgreSQL Synapse 1.160 database, in one transaction, it changes about `fraction` of
 * the active local users in every way the online migration must follow, each written as Synapse 1.160
 * writes it (read in its source: storage/databases/main/registration.py, devices.py,
 * handlers/deactivate_account.py, handlers/auth.py, handlers/device.py):
 *
 * - new users (register: `users`, `profiles`), each with an email, a device and an access token (login);
 * - password changes (`users.password_hash`, as the admin API with `logout_devices: false`);
 * - deactivations (handlers/deactivate_account.py: threepids and their identity-server bindings
 *   deleted, every visible device deleted with its keys and tokens, the remaining access and refresh
 *   tokens deleted, `password_hash` NULL, `users_pending_deactivation`, `deactivated = 1`; external ids
 *   stay, as Synapse keeps them);
 * - locks (`users.locked = true`; tokens stay, as Synapse keeps them);
 * - new devices, each with an access token, every other one with a refresh token (a login);
 * - deleted devices (the device, its keys, access and refresh tokens);
 * - revoked tokens (one access token without a refresh token deleted, the rest of its device kept);
 * - new access tokens on existing devices;
 * - rotated refresh tokens (a refresh: a new refresh token and access token, the old refresh token's
 *   `next_token_id` pointing at the new one, its own predecessor deleted; every other rotation's new
 *   access token is `used`, which makes the old pair dead);
 * - changed emails (one email threepid deleted, another added);
 * - new links (`user_external_ids` on a provider the database already uses).
 *
 * Users are chosen in the database (no names assumed) by an md5 order that depends on the seed, each
 * for one kind of change only, so that the changes never overlap; tokens, device ids and hashes come
 * from a generator seeded with the seed and the database's state (the same seed on the same database
 * gives the same changes; a second run on the changed database gives new ones without collisions).
 */
import { crc32 } from "node:zlib";
import type pg from "pg";

/** The kinds of change, in the order they are applied (and users are chosen). */
export const CHURN_KINDS = [
  "newUsers",
  "passwordChanges",
  "deactivations",
  "locks",
  "newDevices",
  "deletedDevices",
  "revokedTokens",
  "newTokens",
  "rotatedRefreshTokens",
  "changedEmails",
  "newLinks",
] as const;
export type ChurnKind = (typeof CHURN_KINDS)[number];

/** One change, for tests to look the rows up: never a token, hash or address. */
export interface ChurnExample {
  userId: string;
  /** The device created, deleted, given a token or whose refresh token was rotated. */
  deviceId?: string;
  /** revokedTokens: the deleted access token's id; newTokens: the new one's; rotatedRefreshTokens: the old refresh token's. */
  tokenId?: number;
  /** rotatedRefreshTokens: the new refresh token's id. */
  nextTokenId?: number;
  /** rotatedRefreshTokens: whether the new access token was used (the old pair is then dead). */
  used?: boolean;
  /** newLinks: the provider (`auth_provider`). */
  provider?: string;
}

export interface ChurnSummary {
  /** The active local users the fraction is of (not guests, application-service users or deactivated). */
  population: number;
  /** Users (or new users) chosen for each kind: max(1, round(fraction * population / kinds)). */
  perKind: number;
  /** Changes made, per kind (fewer than perKind when too few users qualify). */
  counts: Record<ChurnKind, number>;
  /** Up to {@link EXAMPLES_PER_KIND} changes per kind, in the order made. */
  examples: Record<ChurnKind, ChurnExample[]>;
  /** Every user id changed or created, sorted. */
  touchedUsers: string[];
  /** The time written into the changed rows (milliseconds since the epoch). */
  now: number;
}

export interface ChurnOptions {
  /** Share of the active local users to change, over all kinds together (0.01: 1%). */
  fraction: number;
  /** Default 1. */
  seed?: number;
  /** The server name of new user ids; default the one most users have. */
  serverName?: string;
  /** The time written into rows; default now. */
  now?: number;
}

export const EXAMPLES_PER_KIND = 5;

/** Refresh tokens issued by a churned login or refresh live this long (the fixture's Synapse: 24 hours). */
const REFRESH_LIFETIME_MS = 24 * 3_600_000;
/** Access tokens paired with a refresh token expire after this long (the fixture's Synapse: 5 minutes). */
const ACCESS_LIFETIME_MS = 5 * 60_000;

/** An active local user: not a guest, not an application service's, not deactivated. */
const ACTIVE = "u.is_guest = 0 AND u.appservice_id IS NULL AND u.deactivated = 0";

/** A small seeded generator (mulberry32). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string, as a 32-bit seed. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

class Values {
  private readonly random: () => number;
  constructor(seed: number) {
    this.random = generator(seed);
  }

  pick(alphabet: string, length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.random() * alphabet.length)];
    return out;
  }

  /** A device id as Synapse makes one: 10 random letters, upper case. */
  deviceId(): string {
    return this.pick(LETTERS.slice(0, 26), 10).toUpperCase();
  }

  /** `syt_`/`syr_`, the localpart in unpadded base64, 20 random letters and a base62 CRC-32 (handlers/auth.py). */
  token(prefix: "syt" | "syr", userId: string): string {
    const localpart = Buffer.from(userId.slice(1, userId.indexOf(":")), "utf8")
      .toString("base64")
      .replace(/=+$/, "");
    const base = `${prefix}_${localpart}_${this.pick(LETTERS, 20)}`;
    let crc = crc32(Buffer.from(base, "ascii"));
    let encoded = "";
    do {
      encoded = BASE62[crc % 62] + encoded;
      crc = Math.floor(crc / 62);
    } while (crc > 0);
    return `${base}_${encoded.padStart(6, "0")}`;
  }

  /** A well-formed bcrypt hash of cost 12 (Synapse's default rounds) of no known password. */
  passwordHash(): string {
    return "$2b$12$" + this.pick(BCRYPT_ALPHABET, 53);
  }

  lower(length: number): string {
    return this.pick("abcdefghijklmnopqrstuvwxyz0123456789", length);
  }
}

/** Runs one statement and returns its rows. */
async function rows<R extends pg.QueryResultRow>(client: pg.ClientBase, text: string, params: unknown[] = []): Promise<R[]> {
  return (await client.query<R>(text, params)).rows;
}

/**
 * Applies the churn in one transaction (committed on success, rolled back on failure) and returns
 * what it did.
 */
export async function churnSynapse(client: pg.ClientBase, options: ChurnOptions): Promise<ChurnSummary> {
  if (!(options.fraction > 0 && options.fraction <= 1)) throw new Error(`fraction ${options.fraction}: between 0 and 1`);
  await client.query("BEGIN");
  try {
    const summary = await churnInTransaction(client, options);
    await client.query("COMMIT");
    return summary;
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  }
}

async function churnInTransaction(client: pg.ClientBase, options: ChurnOptions): Promise<ChurnSummary> {
  const seed = options.seed ?? 1;
  const now = options.now ?? Date.now();
  const [state] = await rows<{ population: number; users: number; access: string; refresh: string; server: string | null }>(
    client,
    `SELECT (SELECT count(*)::int FROM users u WHERE ${ACTIVE}) AS population,
            (SELECT count(*)::int FROM users) AS users,
            (SELECT coalesce(max(id), 0)::text FROM access_tokens) AS access,
            (SELECT coalesce(max(id), 0)::text FROM refresh_tokens) AS refresh,
            (SELECT split_part(name, ':', 2) FROM users GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1) AS server`,
  );
  if (state === undefined) throw new Error("no state");
  const serverName = options.serverName ?? state.server ?? "example.com";
  const values = new Values(hash32(`${seed}:${state.users}:${state.access}:${state.refresh}`));
  let nextAccessId = Number(state.access) + 1;
  let nextRefreshId = Number(state.refresh) + 1;
  const perKind = Math.max(1, Math.round((options.fraction * state.population) / CHURN_KINDS.length));

  const counts = Object.fromEntries(CHURN_KINDS.map((k) => [k, 0])) as Record<ChurnKind, number>;
  const examples = Object.fromEntries(CHURN_KINDS.map((k) => [k, []])) as unknown as Record<ChurnKind, ChurnExample[]>;
  const taken: string[] = [];
  const record = (kind: ChurnKind, example: ChurnExample): void => {
    counts[kind]++;
    if (examples[kind].length < EXAMPLES_PER_KIND) examples[kind].push(example);
    taken.push(example.userId);
  };

  /**
   * Up to perKind active users not chosen before, meeting `condition` (on `u`), in the seed's order.
   * The users chosen before are skipped here rather than in SQL: a filter against a list would be
   * checked for every user of a large database.
   */
  const choose = async (condition = "true", params: unknown[] = []): Promise<string[]> => {
    const found = await rows<{ name: string }>(
      client,
      `SELECT u.name FROM users u WHERE ${ACTIVE} AND (${condition}) ORDER BY md5($1 || ':' || u.name), u.name LIMIT $2`,
      [String(seed), perKind + taken.length, ...params],
    );
    const chosen = new Set(taken);
    return found
      .map((r) => r.name)
      .filter((name) => !chosen.has(name))
      .slice(0, perKind);
  };

  /** A login: the device (store_device) and its access token, with a refresh token when asked (add_refresh_token_to_user). */
  const login = async (userId: string, deviceId: string, withRefresh: boolean): Promise<number> => {
    await client.query(`INSERT INTO devices (user_id, device_id, display_name, hidden) VALUES ($1, $2, $3, false)`, [
      userId,
      deviceId,
      "Churn client",
    ]);
    let refreshId: number | null = null;
    if (withRefresh) {
      refreshId = nextRefreshId++;
      await client.query(
        `INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id, expiry_ts, ultimate_session_expiry_ts)
         VALUES ($1, $2, $3, $4, NULL, $5, NULL)`,
        [refreshId, userId, deviceId, values.token("syr", userId), now + REFRESH_LIFETIME_MS],
      );
    }
    return addAccessToken(userId, deviceId, withRefresh ? now + ACCESS_LIFETIME_MS : null, refreshId);
  };

  /** add_access_token_to_user: `last_validated` now, `used` false. */
  const addAccessToken = async (
    userId: string,
    deviceId: string,
    validUntil: number | null,
    refreshId: number | null,
  ): Promise<number> => {
    const id = nextAccessId++;
    await client.query(
      `INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used)
       VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, false)`,
      [id, userId, deviceId, values.token("syt", userId), validUntil, now, refreshId],
    );
    return id;
  };

  /** A device id the user does not have yet. */
  const freshDeviceId = async (userId: string): Promise<string> => {
    for (;;) {
      const id = values.deviceId();
      const clash = await rows(client, "SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2", [userId, id]);
      if (clash.length === 0) return id;
    }
  };

  /**
   * storage delete_devices + handlers delete_access_tokens_for_devices: the visible devices, their keys
   * and tokens. Set-based: Synapse has no index on refresh_tokens.user_id, so one statement per device
   * would scan that table each time.
   */
  const deleteDevices = async (devices: { userId: string; deviceId: string }[]): Promise<void> => {
    const params = [devices.map((d) => d.userId), devices.map((d) => d.deviceId)];
    const pairs = "unnest($1::text[], $2::text[]) AS p(user_id, device_id)";
    await client.query(
      `DELETE FROM devices t USING ${pairs} WHERE t.user_id = p.user_id AND t.device_id = p.device_id AND t.hidden = false`,
      params,
    );
    for (const table of [
      "device_auth_providers",
      "e2e_device_keys_json",
      "e2e_one_time_keys_json",
      "dehydrated_devices",
      "e2e_fallback_keys_json",
      "access_tokens",
      "refresh_tokens",
    ]) {
      await client.query(
        `DELETE FROM ${table} t USING ${pairs} WHERE t.user_id = p.user_id AND t.device_id = p.device_id`,
        params,
      );
    }
  };

  /** One visible device of each user, in the seed's order. */
  const oneDeviceOf = async (users: string[]): Promise<Map<string, string>> => {
    const found = await rows<{ user_id: string; device_id: string }>(
      client,
      `SELECT DISTINCT ON (user_id) user_id, device_id FROM devices WHERE user_id = ANY($1) AND hidden = false
       ORDER BY user_id, md5($2 || device_id), device_id`,
      [users, String(seed)],
    );
    return new Map(found.map((r) => [r.user_id, r.device_id]));
  };

  // New users: register (users, profiles), add an email, log in on a new device.
  for (let i = 0; i < perKind; i++) {
    const localpart = `churn-${values.lower(10)}`;
    const userId = `@${localpart}:${serverName}`;
    await client.query(
      `INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, appservice_id, user_type, shadow_banned, approved)
       VALUES ($1, $2, $3, 0, 0, NULL, NULL, false, true)`,
      [userId, values.passwordHash(), Math.floor(now / 1000)],
    );
    await client.query(`INSERT INTO profiles (full_user_id, user_id, displayname) VALUES ($1, $2, $2)`, [userId, localpart]);
    await client.query(
      `INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES ($1, 'email', $2, $3, $3)`,
      [userId, `${localpart}@mail.example.org`, now],
    );
    const deviceId = values.deviceId();
    await login(userId, deviceId, false);
    record("newUsers", { userId, deviceId });
  }

  for (const userId of await choose()) {
    await client.query("UPDATE users SET password_hash = $2 WHERE name = $1", [userId, values.passwordHash()]);
    record("passwordChanges", { userId });
  }

  const deactivated = await choose();
  if (deactivated.length > 0) {
    await client.query("DELETE FROM user_threepid_id_server WHERE user_id = ANY($1)", [deactivated]);
    await client.query("DELETE FROM user_threepids WHERE user_id = ANY($1)", [deactivated]);
    const devices = await rows<{ user_id: string; device_id: string }>(
      client,
      "SELECT user_id, device_id FROM devices WHERE user_id = ANY($1) AND hidden = false",
      [deactivated],
    );
    await deleteDevices(devices.map((d) => ({ userId: d.user_id, deviceId: d.device_id })));
    await client.query("DELETE FROM access_tokens WHERE user_id = ANY($1)", [deactivated]);
    await client.query("DELETE FROM refresh_tokens WHERE user_id = ANY($1)", [deactivated]);
    await client.query("UPDATE users SET password_hash = NULL WHERE name = ANY($1)", [deactivated]);
    await client.query("INSERT INTO users_pending_deactivation (user_id) SELECT unnest($1::text[])", [deactivated]);
    await client.query("UPDATE users SET deactivated = 1 WHERE name = ANY($1)", [deactivated]);
  }
  for (const userId of deactivated) record("deactivations", { userId });

  for (const userId of await choose("u.locked = false")) {
    await client.query("UPDATE users SET locked = true WHERE name = $1", [userId]);
    record("locks", { userId });
  }

  let logins = 0;
  for (const userId of await choose()) {
    const deviceId = await freshDeviceId(userId);
    await login(userId, deviceId, logins++ % 2 === 1);
    record("newDevices", { userId, deviceId });
  }

  const VISIBLE_DEVICE = "EXISTS (SELECT 1 FROM devices d WHERE d.user_id = u.name AND d.hidden = false)";
  const losing = await choose(VISIBLE_DEVICE);
  const lost = await oneDeviceOf(losing);
  const deletions = losing.flatMap((userId) => {
    const deviceId = lost.get(userId);
    return deviceId === undefined ? [] : [{ userId, deviceId }];
  });
  await deleteDevices(deletions);
  for (const deletion of deletions) record("deletedDevices", deletion);

  const PLAIN_TOKEN = `EXISTS (SELECT 1 FROM access_tokens a WHERE a.user_id = u.name AND a.refresh_token_id IS NULL AND a.puppets_user_id IS NULL)`;
  for (const userId of await choose(PLAIN_TOKEN)) {
    const [token] = await rows<{ id: string; device_id: string | null }>(
      client,
      `DELETE FROM access_tokens WHERE id = (SELECT id FROM access_tokens
         WHERE user_id = $1 AND refresh_token_id IS NULL AND puppets_user_id IS NULL ORDER BY id LIMIT 1)
       RETURNING id::text, device_id`,
      [userId],
    );
    if (token === undefined) continue;
    record("revokedTokens", { userId, tokenId: Number(token.id), ...(token.device_id ? { deviceId: token.device_id } : {}) });
  }

  const gaining = await choose(VISIBLE_DEVICE);
  const gained = await oneDeviceOf(gaining);
  for (const userId of gaining) {
    const deviceId = gained.get(userId);
    if (deviceId === undefined) continue;
    const tokenId = await addAccessToken(userId, deviceId, null, null);
    record("newTokens", { userId, deviceId, tokenId });
  }

  // A refresh (handlers/auth.py refresh_token): only a refresh token Synapse would still accept.
  const REFRESHABLE = `r.next_token_id IS NULL AND (r.expiry_ts IS NULL OR r.expiry_ts >= $3)
      AND (r.ultimate_session_expiry_ts IS NULL OR r.ultimate_session_expiry_ts >= $3)
      AND EXISTS (SELECT 1 FROM access_tokens a WHERE a.refresh_token_id = r.id)
      AND EXISTS (SELECT 1 FROM devices d WHERE d.user_id = r.user_id AND d.device_id = r.device_id AND d.hidden = false)`;
  let refreshes = 0;
  const refreshing = await choose(`EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.user_id = u.name AND ${REFRESHABLE})`, [now]);
  const refreshable = await rows<{ user_id: string; id: string; device_id: string; ultimate: string | null }>(
    client,
    `SELECT DISTINCT ON (r.user_id) r.user_id, r.id::text, r.device_id, r.ultimate_session_expiry_ts::text AS ultimate
       FROM refresh_tokens r WHERE r.user_id = ANY($1) AND ${REFRESHABLE.replaceAll("$3", "$2")} ORDER BY r.user_id, r.id`,
    [refreshing, now],
  );
  const oldest = new Map(refreshable.map((r) => [r.user_id, r]));
  for (const userId of refreshing) {
    const old = oldest.get(userId);
    if (old === undefined) continue;
    const ultimate = old.ultimate === null ? null : Number(old.ultimate);
    const cap = (t: number): number => (ultimate === null ? t : Math.min(t, ultimate));
    const newRefreshId = nextRefreshId++;
    await client.query(
      `INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id, expiry_ts, ultimate_session_expiry_ts)
       VALUES ($1, $2, $3, $4, NULL, $5, $6)`,
      [newRefreshId, userId, old.device_id, values.token("syr", userId), cap(now + REFRESH_LIFETIME_MS), ultimate],
    );
    const accessId = await addAccessToken(userId, old.device_id, cap(now + ACCESS_LIFETIME_MS), newRefreshId);
    // replace_refresh_token: the old token points at its successor; its own predecessor (and that one's access token) goes.
    await client.query("UPDATE refresh_tokens SET next_token_id = $2 WHERE id = $1", [old.id, newRefreshId]);
    await client.query("DELETE FROM refresh_tokens WHERE next_token_id = $1", [old.id]);
    // The client's first request with the new access token (mark_access_token_as_used): the old pair is dead.
    const used = refreshes++ % 2 === 0;
    if (used) await client.query("UPDATE access_tokens SET used = true WHERE id = $1", [accessId]);
    record("rotatedRefreshTokens", { userId, deviceId: old.device_id, tokenId: Number(old.id), nextTokenId: newRefreshId, used });
  }

  const EMAIL = "EXISTS (SELECT 1 FROM user_threepids t WHERE t.user_id = u.name AND t.medium = 'email')";
  for (const userId of await choose(EMAIL)) {
    const [removed] = await rows<{ address: string }>(
      client,
      `DELETE FROM user_threepids WHERE ctid = (SELECT ctid FROM user_threepids WHERE user_id = $1 AND medium = 'email'
         ORDER BY address LIMIT 1) RETURNING address`,
      [userId],
    );
    if (removed === undefined) continue;
    await client.query("DELETE FROM user_threepid_id_server WHERE user_id = $1 AND medium = 'email' AND address = $2", [
      userId,
      removed.address,
    ]);
    const localpart = userId.slice(1, userId.indexOf(":"));
    await client.query(
      `INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES ($1, 'email', $2, $3, $3)`,
      [userId, `${localpart}.${values.lower(6)}@mail.example.org`, now],
    );
    record("changedEmails", { userId });
  }

  // Links only on providers the homeserver already has users of (MAS knows those).
  const providers = (
    await rows<{ p: string }>(client, "SELECT DISTINCT auth_provider AS p FROM user_external_ids ORDER BY 1")
  ).map((r) => r.p);
  for (const provider of providers) {
    const share = Math.floor(perKind / providers.length) + (providers.indexOf(provider) < perKind % providers.length ? 1 : 0);
    const chosen = (
      await choose("NOT EXISTS (SELECT 1 FROM user_external_ids x WHERE x.user_id = u.name AND x.auth_provider = $3)", [provider])
    ).slice(0, share);
    for (const userId of chosen) {
      await client.query("INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ($1, $2, $3)", [
        provider,
        `churn-${values.lower(16)}`,
        userId,
      ]);
      record("newLinks", { userId, provider });
    }
  }

  return { population: state.population, perKind, counts, examples, touchedUsers: [...new Set(taken)].sort(), now };
}
