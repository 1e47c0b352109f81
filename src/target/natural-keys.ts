/**
 * What identifies each MAS row the tool writes, independently of its random ids: `verify` compares
 * the rows a migration must give (loaded into temporary copies of the tables) with MAS's, table by
 * table, joined on these keys. Foreign keys are compared by what they point at (a username, a
 * device), never by id. Every column of tables.ts is either compared, part of a key, or an id.
 */
import type { MasTableName } from "../model/mas.ts";
import { TABLES, TABLE_ORDER } from "./tables.ts";

/** One value of a row as SQL over the table aliased `t` and its joins; `column` names a column of tables.ts it covers. */
interface Expr {
  name: string;
  sql: string;
  /** The tables.ts column this expression reads, if one (optional columns are compared only when present). */
  column?: string;
}

export interface NaturalKey {
  /** Joins from `t` to the rows its foreign keys point at, in schema `{s}`. */
  joins: string;
  key: Expr[];
  compared: Expr[];
  /** Columns of tables.ts that are ids, random per run: never compared. */
  ids: string[];
  /** When the row was created: later than the migration's commit means activity (MAS) or divergence (Synapse). */
  createdAt: string;
  /** When MAS last changed the row, if it says: a difference in a row changed after the commit is activity (a session used since). */
  changedAt?: string;
  /** The user and device an example names (never a token, hash or address). */
  exampleUser: string;
  exampleDevice: string;
}

const USER = "JOIN {s}.users u ON u.user_id = t.user_id";
const SESSION =
  "JOIN {s}.compat_sessions cs ON cs.compat_session_id = t.compat_session_id JOIN {s}.users u ON u.user_id = cs.user_id";
const col = (name: string): Expr => ({ name, sql: `t.${name}`, column: name });

export const NATURAL_KEYS: { [T in MasTableName]: NaturalKey } = {
  users: {
    joins: "",
    key: [col("username")],
    compared: ["created_at", "locked_at", "deactivated_at", "can_request_admin", "is_guest"].map(col),
    ids: ["user_id"],
    createdAt: "t.created_at",
    changedAt: "GREATEST(t.locked_at, t.deactivated_at)",
    exampleUser: "t.username",
    exampleDevice: "NULL::text",
  },
  user_passwords: {
    joins: USER,
    key: [{ name: "user", sql: "u.username" }],
    compared: ["hashed_password", "version", "created_at"].map(col),
    ids: ["user_password_id", "user_id"],
    createdAt: "t.created_at",
    exampleUser: "u.username",
    exampleDevice: "NULL::text",
  },
  user_emails: {
    joins: USER,
    key: [{ name: "user", sql: "u.username" }, col("email")],
    compared: ["created_at", "confirmed_at"].map(col),
    ids: ["user_email_id", "user_id"],
    createdAt: "t.created_at",
    exampleUser: "u.username",
    exampleDevice: "NULL::text",
  },
  user_unsupported_third_party_ids: {
    joins: USER,
    key: [{ name: "user", sql: "u.username" }, col("medium"), col("address")],
    compared: [col("created_at")],
    ids: ["user_id"],
    createdAt: "t.created_at",
    exampleUser: "u.username",
    exampleDevice: "NULL::text",
  },
  upstream_oauth_links: {
    joins: USER,
    // Providers come from MAS's configuration, so their ids are the same on both sides.
    key: [{ name: "provider", sql: "t.upstream_oauth_provider_id::text", column: "upstream_oauth_provider_id" }, col("subject")],
    compared: [{ name: "user", sql: "u.username" }, col("created_at")],
    ids: ["upstream_oauth_link_id", "user_id"],
    createdAt: "t.created_at",
    exampleUser: "u.username",
    exampleDevice: "NULL::text",
  },
  compat_sessions: {
    // A session without a device is known by its (first) token: one pass over the tokens, not one per session.
    joins: `${USER} LEFT JOIN (SELECT a.compat_session_id, min(a.access_token) AS token FROM {s}.compat_access_tokens a
      JOIN {s}.compat_sessions d ON d.compat_session_id = a.compat_session_id AND d.device_id IS NULL
      GROUP BY a.compat_session_id) dt ON t.device_id IS NULL AND dt.compat_session_id = t.compat_session_id`,
    key: [{ name: "user", sql: "u.username" }, col("device_id"), { name: "token", sql: "dt.token" }],
    compared: ["created_at", "is_synapse_admin", "last_active_at", "last_active_ip", "user_agent", "human_name"].map(col),
    ids: ["compat_session_id", "user_id"],
    createdAt: "t.created_at",
    changedAt: "t.last_active_at",
    exampleUser: "u.username",
    exampleDevice: "t.device_id",
  },
  compat_access_tokens: {
    joins: SESSION,
    key: [col("access_token")],
    compared: [
      { name: "user", sql: "u.username" },
      { name: "device", sql: "cs.device_id" },
      col("created_at"),
      col("expires_at"),
    ],
    ids: ["compat_access_token_id", "compat_session_id"],
    createdAt: "t.created_at",
    exampleUser: "u.username",
    exampleDevice: "cs.device_id",
  },
  compat_refresh_tokens: {
    joins: `${SESSION} LEFT JOIN {s}.compat_access_tokens pa ON pa.compat_access_token_id = t.compat_access_token_id`,
    key: [col("refresh_token")],
    compared: [
      { name: "user", sql: "u.username" },
      { name: "device", sql: "cs.device_id" },
      { name: "paired_access_token", sql: "pa.access_token" },
      col("created_at"),
    ],
    ids: ["compat_refresh_token_id", "compat_session_id", "compat_access_token_id"],
    createdAt: "t.created_at",
    exampleUser: "u.username",
    exampleDevice: "cs.device_id",
  },
};

/** The columns of tables.ts that no natural key covers (compared, key or id): should be none. */
export function uncoveredColumns(table: MasTableName): string[] {
  const spec = NATURAL_KEYS[table];
  const covered = new Set([...spec.ids, ...[...spec.key, ...spec.compared].flatMap((e) => (e.column ? [e.column] : []))]);
  return TABLES[table].map((c) => c.name).filter((name) => !covered.has(name));
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** One side's rows of `table` in natural terms: key columns k0.., compared c0.., the example and the creation time. */
function sideSql(table: MasTableName, schema: string, compared: Expr[]): string {
  const spec = NATURAL_KEYS[table];
  const s = schema === "pg_temp" ? "pg_temp" : quoteIdent(schema);
  const fill = (sql: string): string => sql.replaceAll("{s}", s);
  const values = [
    ...spec.key.map((k, i) => `COALESCE((${fill(k.sql)})::text, '') AS k${i}`),
    ...compared.map((c, i) => `${fill(c.sql)} AS c${i}`),
    `${spec.exampleUser} AS ex_user`,
    `${spec.exampleDevice} AS ex_device`,
    `${spec.createdAt} AS created`,
    `${spec.changedAt ?? "NULL::timestamptz"} AS changed`,
    // MAS's rows made after the migration never stand in for an expected one (a newer password of the same user).
    schema === "pg_temp" ? "false AS late" : `COALESCE(${spec.createdAt} > $1, false) AS late`,
  ];
  return `SELECT true AS present, ${values.join(", ")} FROM ${s}.${table} t ${fill(spec.joins)}`;
}

/**
 * The query that compares the expected rows of `table` (in pg_temp) with MAS's (in `schema`), one
 * row per (status, differing columns) with its count and up to 5 examples. $1 is the migration's
 * commit time (NULL without a record): newer rows are activity (MAS) or divergence (Synapse).
 */
export function comparisonSql(table: MasTableName, schema: string, presentOptional: ReadonlySet<string>): string {
  const spec = NATURAL_KEYS[table];
  const optional = new Set(TABLES[table].filter((c) => c.optional).map((c) => c.name));
  const compared = spec.compared.filter(
    (c) => !c.column || !optional.has(c.column) || presentOptional.has(`${table}.${c.column}`),
  );
  const on = [...spec.key.map((_, i) => `e.k${i} = a.k${i}`), "e.late = a.late"].join(" AND ");
  const diffs = compared.map((c, i) => `CASE WHEN e.c${i} IS DISTINCT FROM a.c${i} THEN '${c.name}' END`);
  const diffArray = diffs.length === 0 ? "ARRAY[]::text[]" : `array_remove(ARRAY[${diffs.join(", ")}]::text[], NULL)`;
  return `WITH e AS (${sideSql(table, "pg_temp", compared)}),
  a AS (${sideSql(table, schema, compared)}),
  j AS (
    SELECT CASE
        WHEN a.present IS NULL THEN CASE WHEN e.created > $1 THEN 'divergence' ELSE 'missing' END
        WHEN e.present IS NULL THEN CASE WHEN a.created > $1 THEN 'activity' ELSE 'unexpected' END
        WHEN cardinality(${diffArray}) > 0 AND a.changed > $1 THEN 'activity'
        WHEN cardinality(${diffArray}) > 0 THEN 'different'
        ELSE 'equal' END AS status,
      CASE WHEN e.present AND a.present THEN ${diffArray} ELSE ARRAY[]::text[] END AS diffs,
      COALESCE(e.ex_user, a.ex_user) AS ex_user, COALESCE(e.ex_device, a.ex_device) AS ex_device
    FROM e FULL JOIN a ON ${on})
  SELECT status, diffs, count(*)::bigint AS n,
    (array_agg(ex_user ORDER BY ex_user, ex_device) FILTER (WHERE status <> 'equal'))[1:5] AS users,
    (array_agg(ex_device ORDER BY ex_user, ex_device) FILTER (WHERE status <> 'equal'))[1:5] AS devices
  FROM j GROUP BY status, diffs`;
}

/** Every table the tool writes, in write order. */
export const COMPARED_TABLES = TABLE_ORDER;
