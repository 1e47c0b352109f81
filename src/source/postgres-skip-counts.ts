/**
 * What `migrate` would skip, counted by PostgreSQL: one aggregate query per entity, no row read
 * into the tool. `check` prints these counts; they must equal `migrate`'s report, reason by reason.
 *
 * KEEP IN STEP WITH THE MAPPERS. Each query groups rows by a CASE whose branches apply the skip
 * rules of the TypeScript mappers in the same order, over the same rows the reader yields
 * (src/source/postgres.ts, SQL.*; src/source/sqlite.ts, SQLITE_READS). If you change a rule there,
 * change it here too; the e2e tests test/e2e/check-skips.test.ts (PostgreSQL) and
 * test/e2e/migrate-sqlite.test.ts (SQLite) compare both on the fixtures.
 *
 *   ownerReason (every query)  <- resolveOwner (src/mapping/owner.ts) and checkUserId
 *                                 (src/model/user-id.ts): malformed_user_id, foreign_user_id,
 *                                 orphan_row, appservice_user, in that order; an empty
 *                                 appservice_id counts as none, as read-rows.ts reads it.
 *   sessionOwnerReason         <- sessionOwnerSkip (src/mapping/owner.ts): deactivated_user, then
 *                                 guest_user (non-zero smallint flags, as decodeFlag).
 *   tokenReason                <- tokenSkip (src/mapping/devices.ts): puppet_token, then
 *                                 superseded_refresh_pair (supersededAndUsed below is the
 *                                 reader's r_superseded_and_used expression), then
 *                                 ended_session (sessionEnded: either expiry before NOW).
 *   users                      <- mapUser (src/mapping/users.ts): ownerReason.
 *   passwords                  <- mapUser: ownerReason when the hash is non-NULL and non-empty,
 *                                 else (owner kept) no_password_hash, then unusable_password_hash
 *                                 (sqlIsUsableBcryptHash, src/model/password-hash.ts).
 *   emails / unsupported_threepids <- mapThreepid (src/mapping/threepids.ts): the medium picks the
 *                                 entity; ownerReason, then deactivated_user for non-email only.
 *   external_ids               <- mapExternalId (src/mapping/external-ids.ts): ownerReason, then
 *                                 unmapped_provider (auth_provider not a key of the provider map).
 *   devices                    <- mapDevice (src/mapping/devices.ts): ownerReason,
 *                                 sessionOwnerReason, then hidden_device (hidden IS TRUE).
 *   (tokens on a device and tokens on none are read in one pass over access_tokens, TOKEN_ROWS)
 *   access_tokens / refresh_tokens on a device <- mapDevice + skipTokens: the device's reason for
 *                                 all its tokens and their refresh tokens, else tokenReason.
 *   access_tokens / refresh_tokens not on a device <- mapLooseToken (src/mapping/tokens.ts):
 *                                 ownerReason, tokenReason, sessionOwnerReason, then
 *                                 missing_device when device_id is set.
 *   refresh_tokens no access token points at <- mapUnpairedRefreshToken (src/mapping/tokens.ts):
 *                                 ownerReason, else no_access_token.
 *
 * A refresh token is counted with its access token, once per access token pointing at it, as
 * skipTokens does; a missing refresh_tokens row behind refresh_token_id counts as no refresh token.
 */
import type { SqlDialect, SynapseQueries } from "./snapshot-readers.ts";
import { sqlSessionEnded } from "./findings-sql.ts";
import type { Entity, SkipReason } from "../mapping/skip.ts";
import { sqlIsUsableBcryptHash } from "../model/password-hash.ts";
import { sqlIsLocalUserId, sqlIsWellFormedUserId } from "../model/user-id.ts";
import type { MigrationReport } from "../report/report.ts";

/** The bind parameter holding Synapse's server name in every query. */
const SERVER = (d: SqlDialect): string => d.param(1);
/** The bind parameter holding the run's time (ms), the mappers' `ctx.startedAt`, in the token queries. */
const NOW = (d: SqlDialect): string => d.param(2);

/** A skip reason as an SQL string literal; typed, so that a misspelt reason does not compile. */
function reason(r: SkipReason): string {
  return `'${r}'`;
}

/** An entity name as an SQL string literal. */
function entity(e: Entity): string {
  return `'${e}'`;
}

/**
 * The CASE branches of {@link resolveOwner} for rows whose user id is `userId` and whose joined
 * `users` row is `u` (all columns NULL when there is none). A NULL user id is malformed (the
 * reader would see the string "null"). Well formed = checkUserId's test: starts with `@`, the
 * first `:` is neither the second nor the last character.
 */
function ownerReason(d: SqlDialect, userId: string, u: string): string {
  const wellFormed = sqlIsWellFormedUserId(userId, d);
  return `
    WHEN ${userId} IS NULL OR NOT ${wellFormed} THEN ${reason("malformed_user_id")}
    WHEN NOT ${sqlIsLocalUserId(userId, SERVER(d), d)} THEN ${reason("foreign_user_id")}
    WHEN ${u}.name IS NULL THEN ${reason("orphan_row")}
    WHEN coalesce(${u}.appservice_id, '') <> '' THEN ${reason("appservice_user")}`;
}

/** The CASE branches of {@link sessionOwnerSkip}, for a joined `users` row `u` known to exist. */
function sessionOwnerReason(u: string): string {
  return `
    WHEN coalesce(CAST(${u}.deactivated AS integer), 0) <> 0 THEN ${reason("deactivated_user")}
    WHEN coalesce(CAST(${u}.is_guest AS integer), 0) <> 0 THEN ${reason("guest_user")}`;
}

/** The reader's `r_superseded_and_used`: the next refresh token's access token was used. */
function supersededAndUsed(r: string): string {
  return `(${r}.next_token_id IS NOT NULL AND EXISTS (
      SELECT 1 FROM access_tokens an WHERE an.refresh_token_id = ${r}.next_token_id AND an.used IS TRUE))`;
}

/** The CASE branches of {@link tokenSkip}, for access token `a` and its refresh token `r` (or NULLs). */
function tokenReason(d: SqlDialect, a: string, r: string): string {
  return `
    WHEN ${a}.puppets_user_id IS NOT NULL THEN ${reason("puppet_token")}
    WHEN ${r}.id IS NOT NULL AND ${supersededAndUsed(r)} THEN ${reason("superseded_refresh_pair")}
    WHEN ${r}.id IS NOT NULL AND ${sqlSessionEnded(r, NOW(d))} THEN ${reason("ended_session")}`;
}

/** The reason a device (`d`, owner `u`) is skipped with all its tokens: {@link mapDevice}. */
function deviceReason(dialect: SqlDialect, d: string, u: string): string {
  return `${ownerReason(dialect, `${d}.user_id`, u)}${sessionOwnerReason(u)}
    WHEN ${d}.hidden IS TRUE THEN ${reason("hidden_device")}`;
}

/** The reason a token not on an existing device is skipped: {@link mapLooseToken}. */
function looseTokenReason(d: SqlDialect, a: string, r: string, u: string): string {
  return `${ownerReason(d, `${a}.user_id`, u)}${tokenReason(d, a, r)}${sessionOwnerReason(u)}
    WHEN ${a}.device_id IS NOT NULL THEN ${reason("missing_device")}`;
}

/**
 * Every access token with its device, when one exists, and its refresh token: the reader's
 * `devices` (tokens on an existing device) and `looseTokens` (no device id, or one naming no
 * device) together, in one pass. On a device, `d.user_id` = `a.user_id`, so the owner is the same.
 */
const TOKEN_ROWS = `access_tokens a
    LEFT JOIN devices d ON d.user_id = a.user_id AND d.device_id = a.device_id
    LEFT JOIN users u ON u.name = a.user_id
    LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id`;

/** Why a token of {@link TOKEN_ROWS} (and its refresh token) is skipped: its device's reason, else its own. */
const TOKEN_REASON = (dialect: SqlDialect): string => `CASE WHEN d.user_id IS NOT NULL
      THEN CASE ${deviceReason(dialect, "d", "u")}${tokenReason(dialect, "a", "r")} END
      ELSE CASE ${looseTokenReason(dialect, "a", "r", "u")} END
    END`;

/** `column` is one of the mapped providers, bound as `$2`, `$3`, ... (FALSE when none is mapped). */
function isMappedProvider(d: SqlDialect, column: string, providers: number): string {
  if (providers === 0) return "FALSE";
  return `${column} IN (${Array.from({ length: providers }, (_, i) => d.param(i + 2)).join(", ")})`;
}

/**
 * One query per entity (threepids: one for both of their entities). Each selects `entity`,
 * `reason` (NULL for a migrated row) and a count, and comes with its bind parameters: $1 is the
 * server name; $2 the run's time in the token queries, $2... the mapped providers in the external
 * ids' query. In the dialect `d`'s spelling.
 */
function queries(d: SqlDialect, serverName: string, providers: readonly string[], now: number): { sql: string; params: unknown[] }[] {
  const server = [serverName];
  return [
    // mapUser: users (the reader skips rows without a name).
    {
      sql: `SELECT ${entity("users")} AS entity,
          CASE ${ownerReason(d, "u.name", "u")} END AS reason, count(*) AS n
     FROM users u WHERE u.name IS NOT NULL GROUP BY 2`,
      params: server,
    },
    // mapUser: passwords.
    {
      sql: `SELECT ${entity("passwords")} AS entity,
          CASE WHEN owner_reason IS NOT NULL THEN (CASE WHEN has_hash THEN owner_reason END)
               WHEN NOT has_hash THEN ${reason("no_password_hash")}
               WHEN NOT usable THEN ${reason("unusable_password_hash")} END AS reason,
          count(*) AS n
     FROM (SELECT CASE ${ownerReason(d, "u.name", "u")} END AS owner_reason,
                  (u.password_hash IS NOT NULL AND u.password_hash <> '') AS has_hash,
                  coalesce(${sqlIsUsableBcryptHash("u.password_hash")}, FALSE) AS usable
             FROM users u WHERE u.name IS NOT NULL) s
    GROUP BY 2`,
      params: server,
    },
    // mapThreepid: a NULL medium is not 'email'.
    {
      sql: `SELECT CASE WHEN t.medium = 'email' THEN ${entity("emails")} ELSE ${entity("unsupported_threepids")} END AS entity,
          CASE ${ownerReason(d, "t.user_id", "u")}
               WHEN t.medium IS DISTINCT FROM 'email' AND coalesce(CAST(u.deactivated AS integer), 0) <> 0 THEN ${reason("deactivated_user")}
          END AS reason,
          count(*) AS n
     FROM user_threepids t LEFT JOIN users u ON u.name = t.user_id
    GROUP BY 1, 2`,
      params: server,
    },
    // mapExternalId: a NULL auth_provider reads as "null", which is no provider's key.
    {
      sql: `SELECT ${entity("external_ids")} AS entity,
          CASE ${ownerReason(d, "e.user_id", "u")}
               WHEN NOT (${isMappedProvider(d, "coalesce(e.auth_provider, 'null')", providers.length)}) THEN ${reason("unmapped_provider")}
          END AS reason,
          count(*) AS n
     FROM user_external_ids e LEFT JOIN users u ON u.name = e.user_id
    GROUP BY 2`,
      params: [serverName, ...providers],
    },
    // mapDevice: one count per device.
    {
      sql: `SELECT ${entity("devices")} AS entity, CASE ${deviceReason(d, "d", "u")} END AS reason, count(*) AS n
     FROM devices d LEFT JOIN users u ON u.name = d.user_id
    GROUP BY 2`,
      params: server,
    },
    // mapDevice's tokens and mapLooseToken.
    {
      sql: `SELECT ${entity("access_tokens")} AS entity, reason, count(*) AS n
     FROM (SELECT ${TOKEN_REASON(d)} AS reason FROM ${TOKEN_ROWS}) s
    GROUP BY reason`,
      params: [serverName, now],
    },
    // The refresh tokens paired with those access tokens, then mapUnpairedRefreshToken.
    {
      sql: `SELECT ${entity("refresh_tokens")} AS entity, reason, count(*) AS n FROM (
     SELECT ${TOKEN_REASON(d)} AS reason FROM ${TOKEN_ROWS} WHERE r.id IS NOT NULL
     UNION ALL
     SELECT CASE ${ownerReason(d, "r.user_id", "u")} ELSE ${reason("no_access_token")} END AS reason
       FROM refresh_tokens r LEFT JOIN users u ON u.name = r.user_id
      WHERE NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.refresh_token_id = r.id)
   ) s GROUP BY reason`,
      params: [serverName, now],
    },
  ];
}

/**
 * Counts, per entity and reason, the rows `migrate` would skip, in the caller's snapshot (run it
 * inside the same transaction as the checks). `providers` is the same auth_provider -> MAS
 * provider map `migrate` uses; `now` (ms) is the time sessions are judged ended at, as the
 * mappers' `startedAt`. Only non-zero counts appear, as in the migration report.
 */
export async function countSkips(
  db: SynapseQueries,
  serverName: string,
  providers: ReadonlyMap<string, string>,
  now: number,
): Promise<MigrationReport["skipped"]> {
  const skipped: MigrationReport["skipped"] = {};
  for (const { sql, params } of queries(db.dialect, serverName, [...providers.keys()], now)) {
    const rows = await db.rows<{ entity: Entity; reason: SkipReason | null; n: string }>(`${sql} ORDER BY 1, 3 DESC, 2`, params);
    for (const row of rows) {
      const n = Number(row.n);
      if (row.reason === null || n === 0) continue;
      const byReason = (skipped[row.entity] ??= {});
      byReason[row.reason] = (byReason[row.reason] ?? 0) + n;
    }
  }
  return skipped;
}
