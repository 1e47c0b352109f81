/**
 * "The limit": the MAS rows of a migration produced by SQL on the Synapse side alone, for the
 * benchmark to pipe with COPY ... TO STDOUT into COPY ... FROM STDIN. It applies the same rules as
 * src/mapping (for data without malformed ids, orphans or times out of MAS's range, which the
 * benchmark does not generate), ended sessions and unusable password hashes included.
 */

import { sqlIsUsableBcryptHash } from "../src/model/password-hash.ts";

/** Synapse's `auth_provider` -> MAS provider id, inlined as a CASE. */
export type ProviderIds = Record<string, string>;

const START = "(extract(epoch FROM now()) * 1000)::bigint";
const LOCAL = (col: string) =>
  `(left(${col}, 1) = '@' AND strpos(${col}, ':') > 2 AND substr(${col}, strpos(${col}, ':') + 1) = 'example.com')`;
const ulid = (ms: string, key: string) => `(lpad(to_hex(${ms}), 12, '0') || substr(md5(${key}), 1, 20))::uuid`;
/** A Synapse time in milliseconds as a timestamptz. */
export const ts = (ms: string) => `to_timestamp((${ms})::double precision / 1000)`;
const USER_MS = `coalesce(u.creation_ts * 1000, ${START})`;
const USER_ID = ulid(USER_MS, "u.name");
const KEPT_USER = `u.appservice_id IS NULL AND ${LOCAL("u.name")}`;
const SESSION_USER = `${KEPT_USER} AND u.is_guest = 0 AND u.deactivated = 0`;
/** A token that is migrated when its session is: not a puppet, not a superseded-and-used pair, not an ended session. */
const KEPT_TOKEN = `a.puppets_user_id IS NULL AND NOT (r.next_token_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM access_tokens an WHERE an.refresh_token_id = r.next_token_id AND an.used IS TRUE))
  AND NOT coalesce(r.expiry_ts < ${START} OR r.ultimate_session_expiry_ts < ${START}, false)`;
const TOKEN_MS = `coalesce(a.last_validated, ${START})`;
const DEVICE_SESSION_MS = `coalesce(
  (SELECT min(${TOKEN_MS}) FROM access_tokens a LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id
    WHERE a.user_id = d.user_id AND a.device_id = d.device_id AND ${KEPT_TOKEN}),
  d.last_seen, ${START})`;
const IP = `CASE WHEN d.ip ~ '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$' OR d.ip ~ '^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$' THEN d.ip::inet END`;

/** Token rows on visible devices of kept users, and on their own sessions when deviceless. */
function tokenSource(): string {
  return `
    SELECT a.*, r.id AS r_id, r.token AS r_token,
           CASE WHEN a.device_id IS NULL THEN ${ulid(TOKEN_MS, "'token-session' || a.id")}
                ELSE ${ulid(DEVICE_SESSION_MS, "d.user_id || d.device_id")} END AS session_id
      FROM access_tokens a
      JOIN users u ON u.name = a.user_id
      LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id
      LEFT JOIN devices d ON d.user_id = a.user_id AND d.device_id = a.device_id
     WHERE ${SESSION_USER} AND ${KEPT_TOKEN}
       AND (a.device_id IS NULL OR (d.device_id IS NOT NULL AND d.hidden IS NOT TRUE))`;
}

/** The MAS provider id of a Synapse `auth_provider` column (NULL for a provider not in `providers`). */
export function providerIdSql(providers: ProviderIds, column: string): string {
  return `CASE ${column} ${Object.entries(providers)
    .map(([k, v]) => `WHEN '${k}' THEN '${v}'::uuid`)
    .join(" ")} END`;
}

/** Per MAS table, the columns written (in the target's order, see src/target/tables.ts) and the SELECT that makes them. */
export type TableQueries = Record<string, { columns: string[]; sql: string }>;

/** The limit's SELECTs: the migration's rules, one per MAS table. */
export function limitQueries(providers: ProviderIds): TableQueries {
  const providerCase = providerIdSql(providers, "e.auth_provider");
  return {
    users: {
      columns: ["user_id", "username", "created_at", "locked_at", "deactivated_at", "can_request_admin", "is_guest"],
      sql: `SELECT ${USER_ID}, substr(u.name, 2, strpos(u.name, ':') - 2), ${ts(USER_MS)},
              CASE WHEN u.locked THEN ${ts(USER_MS)} END, CASE WHEN u.deactivated <> 0 THEN ${ts(USER_MS)} END,
              u.admin <> 0, u.is_guest <> 0
            FROM users u WHERE ${KEPT_USER}`,
    },
    user_passwords: {
      columns: ["user_password_id", "user_id", "hashed_password", "created_at", "version"],
      sql: `SELECT ${ulid(USER_MS, "'password' || u.name")}, ${USER_ID}, u.password_hash, ${ts(USER_MS)}, 1
            FROM users u WHERE ${KEPT_USER} AND coalesce(${sqlIsUsableBcryptHash("u.password_hash", "postgres")}, false)`,
    },
    user_emails: {
      columns: ["user_email_id", "user_id", "email", "created_at"],
      sql: `SELECT ${ulid("t.added_at", "'email' || t.address")}, ${USER_ID}, t.address, ${ts("t.added_at")}
            FROM user_threepids t JOIN users u ON u.name = t.user_id WHERE t.medium = 'email' AND ${KEPT_USER}`,
    },
    user_unsupported_third_party_ids: {
      columns: ["user_id", "medium", "address", "created_at"],
      sql: `SELECT ${USER_ID}, t.medium, t.address, ${ts("t.added_at")}
            FROM user_threepids t JOIN users u ON u.name = t.user_id
           WHERE t.medium <> 'email' AND ${KEPT_USER} AND u.deactivated = 0`,
    },
    upstream_oauth_links: {
      columns: ["upstream_oauth_link_id", "upstream_oauth_provider_id", "user_id", "subject", "created_at"],
      sql: `SELECT ${ulid(USER_MS, "'link' || e.auth_provider || e.external_id")}, ${providerCase}, ${USER_ID}, e.external_id, ${ts(USER_MS)}
            FROM user_external_ids e JOIN users u ON u.name = e.user_id WHERE ${KEPT_USER} AND ${providerCase} IS NOT NULL`,
    },
    compat_sessions: {
      columns: [
        "compat_session_id",
        "user_id",
        "device_id",
        "created_at",
        "is_synapse_admin",
        "last_active_at",
        "last_active_ip",
        "user_agent",
        "human_name",
      ],
      sql: `SELECT ${ulid(DEVICE_SESSION_MS, "d.user_id || d.device_id")}, ${USER_ID}, d.device_id, ${ts(DEVICE_SESSION_MS)},
              u.admin <> 0, ${ts("d.last_seen")}, ${IP}, d.user_agent, d.display_name
            FROM devices d JOIN users u ON u.name = d.user_id WHERE ${SESSION_USER} AND d.hidden IS NOT TRUE
            UNION ALL
            SELECT ${ulid(TOKEN_MS, "'token-session' || a.id")}, ${USER_ID}, NULL, ${ts(TOKEN_MS)}, u.admin <> 0, NULL, NULL, NULL, NULL
            FROM access_tokens a JOIN users u ON u.name = a.user_id LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id
           WHERE a.device_id IS NULL AND ${SESSION_USER} AND ${KEPT_TOKEN}`,
    },
    compat_access_tokens: {
      columns: ["compat_access_token_id", "compat_session_id", "access_token", "created_at", "expires_at"],
      sql: `SELECT ${ulid(TOKEN_MS, "'access' || a.id")}, a.session_id, a.token, ${ts(TOKEN_MS)}, ${ts("a.valid_until_ms")}
            FROM (${tokenSource()}) a`,
    },
    compat_refresh_tokens: {
      columns: ["compat_refresh_token_id", "compat_session_id", "compat_access_token_id", "refresh_token", "created_at"],
      sql: `SELECT ${ulid(TOKEN_MS, "'refresh' || a.r_id")}, a.session_id, ${ulid(TOKEN_MS, "'access' || a.id")}, a.r_token, ${ts(TOKEN_MS)}
            FROM (${tokenSource()}) a WHERE a.r_id IS NOT NULL`,
    },
  };
}
