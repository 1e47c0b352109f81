/**
 * Compares the rows the tool writes in two MAS databases, ids aside: whether an online migration
 * (prepare, then cut-over) left the same MAS as an offline migration of Synapse's final state.
 *
 * Every uuid id is replaced by its row's natural key (as src/target/natural-keys.ts identifies rows
 * for `verify`): a user by username, a password by (username, hash), an email by (username, email),
 * an unsupported third-party id by (username, medium, address), a link by (provider, subject) (the
 * provider ids come from MAS's configuration: the same on both sides), a session by its user's
 * username and device id (a session without a device by its first access token), a token by its
 * text. A foreign key is compared as its parent's natural key; any other uuid column (a password's
 * `upgraded_from_id`, a session's `user_session_id`) as whether it is set. Every other column present
 * on both sides is compared exactly, timestamps included (in UTC, to the microsecond).
 *
 * Each side streams each table once, ordered by an md5 of the natural key, and the two streams are
 * merged in node: memory stays flat whatever the size. Differences name rows by username, device
 * id, email or link subject and say which columns differ; the values of tokens and password hashes
 * (and of keys made from them) never appear in them.
 */
import { StringDecoder } from "node:string_decoder";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import type { MasTableName } from "../../src/model/mas.ts";
import { TABLE_ORDER } from "../../src/target/tables.ts";

export type MasSide = "only in a" | "only in b" | "different";

export interface MasDifference {
  table: MasTableName;
  /** Which row: a username, device id, email or link subject; never a token or hash. */
  key: string;
  side: MasSide;
  /** For "different": each differing column, with both values unless secret; else what the row is. */
  detail: string;
}

export interface MasTableComparison {
  table: MasTableName;
  rowsA: number;
  rowsB: number;
  equal: number;
  onlyInA: number;
  onlyInB: number;
  different: number;
}

export interface MasComparison {
  /** Up to the cap, in table order then key-hash order. */
  differences: MasDifference[];
  /** Every table, with its counts (all rows counted, past the cap too). */
  tables: MasTableComparison[];
  /** True when more differences were found than the cap kept. */
  truncated: boolean;
}

export interface CompareOptions {
  /** Differences kept (default 100); counting goes on past it. */
  cap?: number;
}

/** Columns whose values (or keys made from them) are secrets: a difference says they differ, never what they hold. */
const SECRET_COLUMNS = new Set([
  "hashed_password",
  "access_token",
  "refresh_token",
  "compat_session_id",
  "compat_access_token_id",
]);

/** The natural key of the session `sk` (username, device id, and for a session without a device its first token). */
const SESSION_KEYS = `dl AS (
    SELECT a.compat_session_id, min(a.access_token) AS token
      FROM compat_access_tokens a JOIN compat_sessions s ON s.compat_session_id = a.compat_session_id
     WHERE s.device_id IS NULL GROUP BY a.compat_session_id),
  sk AS (
    SELECT s.compat_session_id, u.username, s.device_id, ROW(u.username, s.device_id, dl.token)::text AS skey
      FROM compat_sessions s JOIN users u ON u.user_id = s.user_id
      LEFT JOIN dl ON dl.compat_session_id = s.compat_session_id)`;

const sessionLabel = (what: string): string =>
  `'${what}' || coalesce(sk.username, '?') || coalesce(' device ' || sk.device_id, ' without a device')`;

interface TableSpec {
  /** Common table expressions the joins need. */
  with?: string;
  joins: string;
  /** SQL text of the natural key (hashed for the order). */
  key: string;
  /** SQL text naming the row (no secret). */
  label: string;
  /** Columns not compared: the row's own id and the columns in the key. */
  omit: string[];
  /** Foreign keys compared as their parent's natural key. */
  mapped: Record<string, string>;
}

const BY_USER = { joins: "LEFT JOIN users u ON u.user_id = t.user_id", mapped: { user_id: "u.username" } };

const SPECS: { [T in MasTableName]: TableSpec } = {
  users: {
    joins: "",
    key: "ROW(t.username)::text",
    label: "'user ' || t.username",
    omit: ["user_id", "username"],
    mapped: {},
  },
  user_passwords: {
    ...BY_USER,
    key: "ROW(u.username, t.hashed_password)::text",
    label: "'password of ' || coalesce(u.username, '?')",
    omit: ["user_password_id", "user_id", "hashed_password"],
  },
  user_emails: {
    ...BY_USER,
    key: "ROW(u.username, t.email)::text",
    label: "coalesce(u.username, '?') || ' email ' || t.email",
    omit: ["user_email_id", "user_id", "email"],
  },
  user_unsupported_third_party_ids: {
    ...BY_USER,
    key: "ROW(u.username, t.medium, t.address)::text",
    label: "coalesce(u.username, '?') || ' ' || t.medium || ' ' || t.address",
    omit: ["user_id", "medium", "address"],
  },
  upstream_oauth_links: {
    ...BY_USER,
    key: "ROW(t.upstream_oauth_provider_id, t.subject)::text",
    label: "'link on provider ' || t.upstream_oauth_provider_id || ' subject ' || t.subject",
    omit: ["upstream_oauth_link_id", "upstream_oauth_provider_id", "subject"],
  },
  compat_sessions: {
    with: SESSION_KEYS,
    joins: "JOIN sk ON sk.compat_session_id = t.compat_session_id",
    key: "sk.skey",
    label: sessionLabel("session of "),
    omit: ["compat_session_id", "user_id", "device_id"],
    mapped: {},
  },
  compat_access_tokens: {
    with: SESSION_KEYS,
    joins: "LEFT JOIN sk ON sk.compat_session_id = t.compat_session_id",
    key: "ROW(t.access_token)::text",
    label: sessionLabel("access token of "),
    omit: ["compat_access_token_id", "access_token"],
    mapped: { compat_session_id: "sk.skey" },
  },
  compat_refresh_tokens: {
    with: SESSION_KEYS,
    joins: `LEFT JOIN sk ON sk.compat_session_id = t.compat_session_id
      LEFT JOIN compat_access_tokens at ON at.compat_access_token_id = t.compat_access_token_id`,
    key: "ROW(t.refresh_token)::text",
    label: sessionLabel("refresh token of "),
    omit: ["compat_refresh_token_id", "refresh_token"],
    mapped: { compat_session_id: "sk.skey", compat_access_token_id: "at.access_token" },
  },
};

interface Column {
  name: string;
  type: string;
}

async function columnsOf(client: pg.ClientBase, table: string): Promise<Column[]> {
  const result = await client.query<Column>(
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return result.rows;
}

/** The compared value of one column, as text the same on any server (timestamps in UTC). */
function valueSql(spec: TableSpec, column: Column): string {
  const mapped = spec.mapped[column.name];
  if (mapped !== undefined) return `(${mapped})::text`;
  const t = `t.${quoteIdent(column.name)}`;
  if (column.type === "uuid") return `(${t} IS NOT NULL)::text`;
  if (column.type === "timestamp with time zone") return `to_char(${t} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
  return `${t}::text`;
}

/** The table's rows as `md5(key) label value...`, ordered by the hash (and the values, for equal keys). */
function tableSql(table: MasTableName, columns: Column[]): string {
  const spec = SPECS[table];
  const values = columns.map((c) => `${valueSql(spec, c)} COLLATE "C"`);
  const order = ["1", ...values.map((_, i) => String(i + 3))].join(", ");
  return `${spec.with ? `WITH ${spec.with} ` : ""}SELECT md5(${spec.key}) COLLATE "C", ${spec.label}${values.map((v) => `, ${v}`).join("")}
    FROM ${table} t ${spec.joins} ORDER BY ${order}`;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** One field of COPY's text format, unescaped (`\N` is NULL). */
function unescapeCopy(field: string): string | null {
  if (field === "\\N") return null;
  return field.replace(/\\(.)/g, (_, c: string) => ({ t: "\t", n: "\n", r: "\r", b: "\b", f: "\f", v: "\v" })[c] ?? c);
}

/**
 * The rows of `sql` (COPY text format, split into escaped fields), streamed: the stream is pulled
 * chunk by chunk, so a side waiting for the other one buffers nothing more.
 */
async function* copyRows(client: pg.ClientBase, sql: string): AsyncGenerator<string[]> {
  const stream = client.query(copyTo(`COPY (${sql}) TO STDOUT`));
  const decoder = new StringDecoder("utf8");
  let rest = "";
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const lines = (rest + decoder.write(chunk)).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) yield line.split("\t");
  }
  rest += decoder.end();
  if (rest !== "") yield rest.split("\t");
}

function describeValue(value: string | undefined): string {
  const v = value === undefined ? null : unescapeCopy(value);
  return v === null ? "NULL" : v;
}

/** Compares the two databases table by table; see the file's comment. */
export async function compareMas(a: pg.ClientBase, b: pg.ClientBase, options: CompareOptions = {}): Promise<MasComparison> {
  const cap = options.cap ?? 100;
  const differences: MasDifference[] = [];
  const tables: MasTableComparison[] = [];
  let truncated = false;
  const add = (d: MasDifference): void => {
    if (differences.length < cap) differences.push(d);
    else truncated = true;
  };

  for (const table of TABLE_ORDER) {
    const spec = SPECS[table];
    const [colsA, colsB] = await Promise.all([columnsOf(a, table), columnsOf(b, table)]);
    const inB = new Set(colsB.map((c) => c.name));
    const inA = new Set(colsA.map((c) => c.name));
    for (const c of colsA) if (!inB.has(c.name)) add({ table, key: `column ${c.name}`, side: "only in a", detail: "a column" });
    for (const c of colsB) if (!inA.has(c.name)) add({ table, key: `column ${c.name}`, side: "only in b", detail: "a column" });
    const columns = colsA.filter((c) => inB.has(c.name) && !spec.omit.includes(c.name));

    const counts: MasTableComparison = { table, rowsA: 0, rowsB: 0, equal: 0, onlyInA: 0, onlyInB: 0, different: 0 };
    const streamA = copyRows(a, tableSql(table, columns));
    const streamB = copyRows(b, tableSql(table, columns));
    // Both streams run at once (one connection each); each is read one row ahead.
    const nextA = async (): Promise<string[] | undefined> => {
      const r = await streamA.next();
      if (r.done) return undefined;
      counts.rowsA++;
      return r.value;
    };
    const nextB = async (): Promise<string[] | undefined> => {
      const r = await streamB.next();
      if (r.done) return undefined;
      counts.rowsB++;
      return r.value;
    };
    let [ra, rb] = await Promise.all([nextA(), nextB()]);
    while (ra !== undefined || rb !== undefined) {
      const ha = ra?.[0];
      const hb = rb?.[0];
      if (ra !== undefined && (hb === undefined || (ha as string) < hb)) {
        counts.onlyInA++;
        add({ table, key: describeValue(ra[1]), side: "only in a", detail: "no row with this key in b" });
        ra = await nextA();
      } else if (rb !== undefined && (ha === undefined || (hb as string) < ha)) {
        counts.onlyInB++;
        add({ table, key: describeValue(rb[1]), side: "only in b", detail: "no row with this key in a" });
        rb = await nextB();
      } else if (ra !== undefined && rb !== undefined) {
        const differing = columns.flatMap((c, i) => (ra?.[i + 2] === rb?.[i + 2] ? [] : [{ c, i }]));
        if (differing.length === 0) counts.equal++;
        else {
          counts.different++;
          const detail = differing
            .map(({ c, i }) =>
              SECRET_COLUMNS.has(c.name)
                ? `${c.name} differs`
                : `${c.name}: a ${describeValue(ra?.[i + 2])}, b ${describeValue(rb?.[i + 2])}`,
            )
            .join("; ");
          add({ table, key: describeValue(ra[1]), side: "different", detail });
        }
        [ra, rb] = await Promise.all([nextA(), nextB()]);
      }
    }
    tables.push(counts);
  }
  return { differences, tables, truncated };
}

/** The differences between two MAS databases' migrated rows, ids aside (at most `cap`, default 100); none when equal. */
export async function compareMasDatabases(
  a: pg.ClientBase,
  b: pg.ClientBase,
  options: CompareOptions = {},
): Promise<MasDifference[]> {
  return (await compareMas(a, b, options)).differences;
}
