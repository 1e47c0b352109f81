/**
 * What identifies each MAS row the tool writes, independently of its random ids: `verify` compares
 * the rows a migration must give (loaded into temporary copies of the tables) with MAS's, table by
 * table, joined on these keys. Every column of tables.ts is either compared, part of a key, or an id.
 *
 * Foreign keys are compared through the pairs already matched: comparing `users` records which
 * expected user is which MAS user (pg_temp.user_map), comparing `compat_sessions` which session is
 * which, and `compat_access_tokens` which token is which. So a child row's user (or session) is
 * equal when it points at the MAS row matched to its expected one, without joining every row of
 * both sides to their parents' natural keys again (the parents are looked up only for examples).
 */
import type { MasTableName } from "../model/mas.ts";
import { TABLES, TABLE_ORDER } from "./tables.ts";

/** SQL over a row `t` (and the table's joins): the same on both sides, or one for the expected side and one for MAS's. */
type SideSql = string | { expected: string; mas: string };

/** One value of a row; `column` names the column of tables.ts it covers. */
interface Expr {
  name: string;
  sql: SideSql;
  /** The tables.ts column this expression reads, if one (optional columns are compared only when present). */
  column?: string;
  /**
   * A key part that may be NULL on both sides and must then match (a deviceless session): compared
   * as text with NULL as ''. Other key parts are compared as they are, so that the planner knows
   * their statistics (and hashes instead of sorting); a NULL there (a parent MAS lacks) matches nothing.
   */
  nullable?: true;
}

/** The temporary tables that pair an expected row's id with the MAS row's it matched. */
export const ID_MAPS = ["user_map", "session_map", "access_token_map"] as const;
type IdMap = (typeof ID_MAPS)[number];

export interface NaturalKey {
  /** Joins from `t`, on each side (`{s}` is the side's schema). */
  joins?: SideSql;
  key: Expr[];
  compared: Expr[];
  /** Columns of tables.ts that are ids, random per run: never compared. */
  ids: string[];
  /** When the row was created: later than the migration's commit means activity (MAS) or divergence (Synapse). */
  createdAt: string;
  /** When MAS last changed the row, if it says: a difference in a row changed after the commit is activity (a session used since). */
  changedAt?: string;
  /** The row's own id, recorded in `map` for each matched pair: its children compare their parent through it. */
  records?: { map: IdMap; id: string };
  /** What an example names (never a token, hash or address): the user, through the row's user or session id, and a device. */
  example: { user: string; via: "user" | "session"; device?: string };
}

/** The expected side's id of the MAS row that `column` points at, through `map` (NULL when none was matched). */
const mapped = (map: IdMap, column: string, alias: string): { joins: string; expr: Expr["sql"] } => ({
  joins: `LEFT JOIN pg_temp.${map} ${alias} ON ${alias}.expected = t.${column}`,
  expr: { expected: `${alias}.mas`, mas: `t.${column}` },
});
const USER = mapped("user_map", "user_id", "mu");
const SESSION = mapped("session_map", "compat_session_id", "ms");
const ACCESS_TOKEN = mapped("access_token_map", "compat_access_token_id", "mt");
const byUser = { joins: { expected: USER.joins, mas: "" }, key: { name: "user", sql: USER.expr, column: "user_id" } };
const col = (name: string): Expr => ({ name, sql: `t.${name}`, column: name });

export const NATURAL_KEYS: { [T in MasTableName]: NaturalKey } = {
  users: {
    key: [col("username")],
    compared: ["created_at", "locked_at", "deactivated_at", "can_request_admin", "is_guest"].map(col),
    ids: ["user_id"],
    createdAt: "t.created_at",
    changedAt: "GREATEST(t.locked_at, t.deactivated_at)",
    records: { map: "user_map", id: "t.user_id" },
    example: { user: "t.user_id", via: "user" },
  },
  user_passwords: {
    joins: byUser.joins,
    key: [byUser.key],
    compared: ["hashed_password", "version", "created_at"].map(col),
    ids: ["user_password_id"],
    createdAt: "t.created_at",
    example: { user: "t.user_id", via: "user" },
  },
  user_emails: {
    joins: byUser.joins,
    key: [byUser.key, col("email")],
    compared: ["created_at", "confirmed_at"].map(col),
    ids: ["user_email_id"],
    createdAt: "t.created_at",
    example: { user: "t.user_id", via: "user" },
  },
  user_unsupported_third_party_ids: {
    joins: byUser.joins,
    key: [byUser.key, col("medium"), col("address")],
    compared: [col("created_at")],
    ids: [],
    createdAt: "t.created_at",
    example: { user: "t.user_id", via: "user" },
  },
  upstream_oauth_links: {
    joins: byUser.joins,
    // Providers come from MAS's configuration, so their ids are the same on both sides.
    key: [{ name: "provider", sql: "t.upstream_oauth_provider_id", column: "upstream_oauth_provider_id" }, col("subject")],
    compared: [byUser.key, col("created_at")],
    ids: ["upstream_oauth_link_id"],
    createdAt: "t.created_at",
    example: { user: "t.user_id", via: "user" },
  },
  compat_sessions: {
    // A session without a device is known by its (first) token: one pass over the tokens, not one per session.
    joins: {
      expected: `${USER.joins} ${deviceless("pg_temp")}`,
      mas: deviceless("{s}"),
    },
    key: [byUser.key, { ...col("device_id"), nullable: true }, { name: "token", sql: "dt.token", nullable: true }],
    compared: ["created_at", "is_synapse_admin", "last_active_at", "last_active_ip", "user_agent", "human_name"].map(col),
    ids: ["compat_session_id"],
    createdAt: "t.created_at",
    changedAt: "t.last_active_at",
    records: { map: "session_map", id: "t.compat_session_id" },
    example: { user: "t.user_id", via: "user", device: "t.device_id" },
  },
  compat_access_tokens: {
    joins: { expected: SESSION.joins, mas: "" },
    key: [col("access_token")],
    compared: [{ name: "session", sql: SESSION.expr, column: "compat_session_id" }, col("created_at"), col("expires_at")],
    ids: ["compat_access_token_id"],
    createdAt: "t.created_at",
    records: { map: "access_token_map", id: "t.compat_access_token_id" },
    example: { user: "t.compat_session_id", via: "session" },
  },
  compat_refresh_tokens: {
    joins: { expected: `${SESSION.joins} ${ACCESS_TOKEN.joins}`, mas: "" },
    key: [col("refresh_token")],
    compared: [
      { name: "session", sql: SESSION.expr, column: "compat_session_id" },
      { name: "paired_access_token", sql: ACCESS_TOKEN.expr, column: "compat_access_token_id" },
      col("created_at"),
    ],
    ids: ["compat_refresh_token_id"],
    createdAt: "t.created_at",
    example: { user: "t.compat_session_id", via: "session" },
  },
};

/** The first token of each deviceless session of schema `s`, as `dt`. */
function deviceless(s: string): string {
  return `LEFT JOIN (SELECT a.compat_session_id, min(a.access_token) AS token FROM ${s}.compat_access_tokens a
      JOIN ${s}.compat_sessions d ON d.compat_session_id = a.compat_session_id AND d.device_id IS NULL
      GROUP BY a.compat_session_id) dt ON t.device_id IS NULL AND dt.compat_session_id = t.compat_session_id`;
}

/** The columns of tables.ts that no natural key covers (compared, key or id): should be none. */
export function uncoveredColumns(table: MasTableName): string[] {
  const spec = NATURAL_KEYS[table];
  const covered = new Set([...spec.ids, ...[...spec.key, ...spec.compared].flatMap((e) => (e.column ? [e.column] : []))]);
  return TABLES[table].map((c) => c.name).filter((name) => !covered.has(name));
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

type Side = "expected" | "mas";

function onSide(sql: SideSql | undefined, side: Side): string {
  if (sql === undefined) return "";
  return typeof sql === "string" ? sql : sql[side];
}

/** One side's rows of `table` in natural terms: key columns k0.., compared c0.., what examples and maps need, and times. */
function sideSql(table: MasTableName, side: Side, s: string, compared: Expr[]): string {
  const spec = NATURAL_KEYS[table];
  const fill = (sql: string): string => sql.replaceAll("{s}", s);
  const values = [
    ...spec.key.map((k, i) => (k.nullable ? `COALESCE((${onSide(k.sql, side)})::text, '')` : onSide(k.sql, side)) + ` AS k${i}`),
    ...compared.map((c, i) => `${onSide(c.sql, side)} AS c${i}`),
    `${spec.example.user} AS ref`,
    `${spec.example.device ?? "NULL::text"} AS device`,
    `${spec.records?.id ?? "NULL::uuid"} AS id`,
    `${spec.createdAt} AS created`,
    `${spec.changedAt ?? "NULL::timestamptz"} AS changed`,
    // MAS's rows made after the migration never stand in for an expected one (a newer password of the same user).
    side === "expected" ? "false AS late" : `COALESCE(${spec.createdAt} > $1, false) AS late`,
  ];
  return `SELECT true AS present, ${values.join(", ")} FROM ${s}.${table} t ${fill(onSide(spec.joins, side))}`;
}

/** The username (and device) an example names, from the row's user or session id on one side. */
function exampleJoin(via: "user" | "session", side: Side, s: string): { joins: string; user: string; device: string } {
  const ref = side === "expected" ? "j.e_ref" : "j.a_ref";
  const p = side === "expected" ? "xe" : "xm";
  if (via === "user") {
    return { joins: `LEFT JOIN ${s}.users ${p}u ON ${p}u.user_id = ${ref}`, user: `${p}u.username`, device: "NULL::text" };
  }
  return {
    joins: `LEFT JOIN ${s}.compat_sessions ${p}s ON ${p}s.compat_session_id = ${ref} LEFT JOIN ${s}.users ${p}u ON ${p}u.user_id = ${p}s.user_id`,
    user: `${p}u.username`,
    device: `${p}s.device_id`,
  };
}

/**
 * The query that compares the expected rows of `table` (in pg_temp) with MAS's (in `schema`), one
 * row per (status, differing columns) with its count and up to 5 examples, and records the matched
 * pairs of ids where children need them. $1 is the migration's commit time (NULL without a record):
 * newer rows are activity (MAS) or divergence (Synapse). Tables must be compared in write order.
 */
export function comparisonSql(table: MasTableName, schema: string, presentOptional: ReadonlySet<string>): string {
  const spec = NATURAL_KEYS[table];
  const s = quoteIdent(schema);
  const optional = new Set(TABLES[table].filter((c) => c.optional).map((c) => c.name));
  const compared = spec.compared.filter(
    (c) => !c.column || !optional.has(c.column) || presentOptional.has(`${table}.${c.column}`),
  );
  const on = [...spec.key.map((_, i) => `e.k${i} = a.k${i}`), "e.late = a.late"].join(" AND ");
  const diffs = compared.map((c, i) => `CASE WHEN e.c${i} IS DISTINCT FROM a.c${i} THEN '${c.name}' END`);
  const diffArray = diffs.length === 0 ? "ARRAY[]::text[]" : `array_remove(ARRAY[${diffs.join(", ")}]::text[], NULL)`;
  const exExpected = exampleJoin(spec.example.via, "expected", "pg_temp");
  const exMas = exampleJoin(spec.example.via, "mas", s);
  const exUser = `COALESCE(${exExpected.user}, ${exMas.user})`;
  const exDevice = `COALESCE(j.device, ${exExpected.device}, ${exMas.device})`;
  const record = spec.records
    ? `, recorded AS (INSERT INTO pg_temp.${spec.records.map} (expected, mas)
        SELECT e_id, a_id FROM j WHERE e_id IS NOT NULL AND a_id IS NOT NULL)`
    : "";
  // The differing columns are computed once per row (OFFSET 0 keeps that subquery from being folded
  // into its uses); the counts group without sorting, and only the rows that are not equal are
  // sorted for their examples (an aggregate with ORDER BY cannot be hashed), their users looked up.
  return `WITH e AS (${sideSql(table, "expected", "pg_temp", compared)}),
  a AS (${sideSql(table, "mas", s, compared)}),
  j AS MATERIALIZED (
    SELECT CASE
        WHEN a_present IS NULL THEN CASE WHEN e_created > $1 THEN 'divergence' ELSE 'missing' END
        WHEN e_present IS NULL THEN CASE WHEN a_created > $1 THEN 'activity' ELSE 'unexpected' END
        WHEN cardinality(diffs) > 0 AND a_changed > $1 THEN 'activity'
        WHEN cardinality(diffs) > 0 THEN 'different'
        ELSE 'equal' END AS status,
      diffs, e_ref, a_ref, device, e_id, a_id
    FROM (
      SELECT e.present AS e_present, a.present AS a_present, e.created AS e_created, a.created AS a_created,
        a.changed AS a_changed,
        CASE WHEN e.present AND a.present THEN ${diffArray} ELSE ARRAY[]::text[] END AS diffs,
        e.ref AS e_ref, a.ref AS a_ref, COALESCE(e.device, a.device) AS device, e.id AS e_id, a.id AS a_id
      FROM e FULL JOIN a ON ${on}
      OFFSET 0) joined)${record},
  counts AS (SELECT status, diffs, count(*)::bigint AS n FROM j GROUP BY status, diffs),
  examples AS (
    SELECT status, diffs,
      (array_agg(ex_user ORDER BY ex_user, ex_device))[1:5] AS users,
      (array_agg(ex_device ORDER BY ex_user, ex_device))[1:5] AS devices
    FROM (SELECT j.status, j.diffs, ${exUser} AS ex_user, ${exDevice} AS ex_device
          FROM j ${exExpected.joins} ${exMas.joins} WHERE j.status <> 'equal') x
    GROUP BY status, diffs)
  SELECT counts.status, counts.diffs, counts.n, examples.users, examples.devices
  FROM counts LEFT JOIN examples ON examples.status = counts.status AND examples.diffs = counts.diffs`;
}

/** Every table the tool writes, in write order. */
export const COMPARED_TABLES = TABLE_ORDER;
