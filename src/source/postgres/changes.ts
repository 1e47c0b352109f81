/**
 * What changed in a PostgreSQL Synapse since a stage was prepared, found per user: a fingerprint
 * of every row the reads take for that user, computed inside PostgreSQL (only one line per user
 * crosses the network), and the users whose sessions end in a window of time.
 */
import type { Readable } from "node:stream";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { sqlSessionEnded } from "../findings-sql.ts";
import type { UserChanges } from "../source.ts";

/**
 * The tables the reads take rows from (read-columns.ts), each with the column naming the user a
 * row belongs to. Whole rows are hashed: a column no read takes can only make a user look changed
 * (re-read for nothing), never hide a change.
 */
const HASHED_TABLES: readonly (readonly [table: string, userColumn: string])[] = [
  ["users", "name"],
  ["user_threepids", "user_id"],
  ["user_external_ids", "user_id"],
  ["devices", "user_id"],
  ["access_tokens", "user_id"],
  ["refresh_tokens", "user_id"],
];

/**
 * A 64-bit hash of row `x`, seeded by its table's place: PostgreSQL 14 hashes a row as it is
 * (hash_record_extended: 0.65 s against 0.9 s for its text at 100k users, measured); before 14,
 * its text. Two runs on one server hash alike; across an upgrade every user only looks changed.
 */
function rowHash(seed: number, hashesRecords: boolean): string {
  return hashesRecords ? `hash_record_extended(x, ${seed})` : `hashtextextended(x::text, ${seed})`;
}

/**
 * `user_id, fingerprint`: per user, the sum of a 64-bit hash of each of its rows in every table
 * (numeric: no overflow; a sum does not depend on the order rows come in).
 */
export function fingerprintSql(hashesRecords: boolean): string {
  const rows = HASHED_TABLES.map(
    ([table, user], seed) => `SELECT x.${user} AS user_id, ${rowHash(seed, hashesRecords)} AS h FROM ${table} x`,
  );
  return `SELECT user_id, sum(h)::text AS fingerprint FROM (\n  ${rows.join("\n  UNION ALL ")}\n) rows GROUP BY user_id`;
}

/** hash_record_extended came with PostgreSQL 14. */
const RECORD_HASH_SINCE = 140000;

/** The users with a refresh token whose session a run at `$1` kept and a run at `$2` leaves behind. */
const ENDING_SQL = `SELECT DISTINCT user_id FROM refresh_tokens r
  WHERE ${sqlSessionEnded("r", "$2")} AND NOT ${sqlSessionEnded("r", "$1")}`;

/** The change queries, on the source's connection (inside its snapshot). */
export function postgresUserChanges(client: pg.Client, serverVersion: number): UserChanges {
  const sql = fingerprintSql(serverVersion >= RECORD_HASH_SINCE);
  return {
    fingerprints: (): Readable => client.query(copyTo(`COPY (${sql}) TO STDOUT`)),
    async sessionsEndingBetween(from: number, to: number): Promise<string[]> {
      const result = await client.query<{ user_id: string }>(ENDING_SQL, [from, to]);
      return result.rows.map((r) => r.user_id);
    },
  };
}
