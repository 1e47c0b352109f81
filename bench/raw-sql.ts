/**
 * "The raw ingest limit": the same MAS tables and row counts as the limit (bench/limit-sql.ts), made
 * by the simplest SQL, for the benchmark to pipe with COPY ... TO STDOUT into COPY ... FROM STDIN.
 * It measures what PostgreSQL needs to move that many rows of that shape, with none of the rules.
 *
 * "Simplest", for every table: one SELECT over the one Synapse table the MAS rows come from, no join,
 * no WHERE, the row count cut with `LIMIT` (the limit's count for that table: the rows the rules would
 * skip are simply the table's last ones), and the same columns as the limit writes, each one
 *  - a generated id: the row's position (`row_number() OVER ()`) as a uuid;
 *  - a foreign key: the id of the parent table's row at the same position, wrapped to the parent's
 *    row count, so that it points at a row that exists (valid for the rebuilt constraints, not meaningful);
 *  - else the Synapse column it is copied from, with at most a type cast (milliseconds or seconds to
 *    timestamptz, smallint flag to boolean, text to inet), `coalesce` where Synapse allows NULL and
 *    MAS does not, and the provider lookup a provider id needs (its foreign key);
 *  - else (MAS times Synapse does not keep, flags that need a join) `now()`, NULL or false.
 * The rows are not MAS-valid migrations (no bcrypt check, usernames are full user ids, sessions hang
 * off arbitrary users), but unique keys stay unique (Synapse's own keys) and foreign keys resolve.
 */
import { limitQueries, providerIdSql, ts, type ProviderIds, type TableQueries } from "./limit-sql.ts";

/** The row's 1-based position in the SELECT's output. */
const POSITION = "row_number() OVER ()";
const uuidOf = (n: string) => `lpad(to_hex(${n}), 32, '0')::uuid`;
const ID = uuidOf(POSITION);
/** The id of the parent row at this row's position, wrapped to the parent's `count` rows. */
const parentId = (count: number) => uuidOf(`(${POSITION} - 1) % ${Math.max(count, 1)} + 1`);

/**
 * One SELECT per MAS table, `counts` rows each (the limit's counts), with the limit's column lists.
 * Throws if `counts` lacks one of the limit's tables.
 */
export function rawQueries(providers: ProviderIds, counts: Record<string, number>): TableQueries {
  const count = (table: string): number => {
    const n = counts[table];
    if (n === undefined) throw new Error(`raw ingest limit: no row count for ${table}`);
    return n;
  };
  const users = count("users");
  const sessions = count("compat_sessions");
  const select: Record<string, string> = {
    users: `SELECT ${ID}, name, to_timestamp(coalesce(creation_ts, 0)), NULL, NULL, admin <> 0, is_guest <> 0
              FROM users`,
    user_passwords: `SELECT ${ID}, ${parentId(users)}, coalesce(password_hash, ''), to_timestamp(coalesce(creation_ts, 0)), 1
              FROM users`,
    user_emails: `SELECT ${ID}, ${parentId(users)}, address, ${ts("added_at")} FROM user_threepids`,
    user_unsupported_third_party_ids: `SELECT ${parentId(users)}, medium, address, ${ts("added_at")} FROM user_threepids`,
    upstream_oauth_links: `SELECT ${ID}, ${providerIdSql(providers, "auth_provider")}, ${parentId(users)}, external_id, now()
              FROM user_external_ids`,
    compat_sessions: `SELECT ${ID}, ${parentId(users)}, device_id, ${ts("coalesce(last_seen, 0)")}, false,
              ${ts("last_seen")}, ip::inet, user_agent, display_name
              FROM devices`,
    compat_access_tokens: `SELECT ${ID}, ${parentId(sessions)}, token, ${ts("coalesce(last_validated, 0)")}, ${ts("valid_until_ms")}
              FROM access_tokens`,
    compat_refresh_tokens: `SELECT ${ID}, ${parentId(sessions)}, ${parentId(count("compat_access_tokens"))}, token, now()
              FROM refresh_tokens`,
  };
  return Object.fromEntries(
    Object.entries(limitQueries(providers)).map(([table, exact]) => {
      const sql = select[table];
      if (sql === undefined) throw new Error(`raw ingest limit: no SELECT for ${table}`);
      return [table, { columns: exact.columns, sql: `${sql} LIMIT ${count(table)}` }];
    }),
  );
}
