/**
 * What changed in a PostgreSQL Synapse since a stage was last brought up to date, found from row
 * versions: every row PostgreSQL writes (insert or update) carries the id of the transaction that
 * wrote it (`xmin`). A run records its snapshot's oldest running transaction (its mark); a later
 * run's rows written at or after that mark are the new and updated ones, found by one scan with no
 * hashing. Deleted rows leave no version behind: they are found by counting, per table, the older
 * rows that are left against the stage's counts per user (see pipeline/changed-users.ts).
 *
 * Nothing is asked of the server (no replication slot, no `wal_level`, no extra role).
 */
import type { Readable } from "node:stream";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { bucketVector, type UserRowCounts } from "../../model/user-buckets.ts";
import { sqlSessionEnded } from "../findings-sql.ts";
import type { ChangeMark, UserChanges } from "../source.ts";

/**
 * The tables the reads take rows from (read-columns.ts), each with the column naming the user a
 * row belongs to. Counts per user are kept in this order.
 */
export const CHANGE_TABLES: readonly (readonly [table: string, userColumn: string])[] = [
  ["users", "name"],
  ["user_threepids", "user_id"],
  ["user_external_ids", "user_id"],
  ["devices", "user_id"],
  ["access_tokens", "user_id"],
  ["refresh_tokens", "user_id"],
];

/**
 * How many buckets a stage spreads `users` users over (by a hash of their id) to find whose rows
 * were deleted: about 16 users per bucket, a power of two from 1,024 to 262,144. Counting per
 * bucket costs more with more buckets (65,536 cost twice 8,192 at 100k users, measured); each
 * bucket that lost rows costs a look at its users by index: fewer users per bucket than that
 * would cost more than it saves.
 */
export function bucketsFor(users: number): number {
  let buckets = MIN_BUCKETS;
  while (buckets < MAX_BUCKETS && buckets * 16 < users) buckets *= 2;
  return buckets;
}

const MIN_BUCKETS = 1024;
const MAX_BUCKETS = 262144;

/** Whether a saved mark's bucket count is one {@link bucketsFor} gives (a mark of an earlier syn2mas has none). */
function isBucketCount(buckets: unknown): buckets is number {
  return typeof buckets === "number" && buckets >= MIN_BUCKETS && buckets <= MAX_BUCKETS && (buckets & (buckets - 1)) === 0;
}

const bucketOf = (column: string, buckets: number) => `(hashtext(${column}) & ${buckets - 1})`;

/** Transaction ids wrap at 2^32; a mark further back than half of that cannot be compared. */
const XID_SPAN_LIMIT = 2 ** 31 - 2 ** 24;

/**
 * One query per table (of `only`): `select` from each table `x`, then `rest` (its conditions and
 * grouping), given its user column; each row starts with the table's place `t`. Each table is
 * aggregated on its own (one aggregate over all tables' rows cost twice as much, measured), and
 * the queries can run side by side on the snapshot's connections.
 */
function eachTable(
  select: (user: string) => string,
  rest: (user: string) => string = () => "",
  only?: readonly number[],
): string[] {
  return CHANGE_TABLES.flatMap(([table, column], place) => {
    if (only !== undefined && !only.includes(place)) return [];
    const user = `x.${column}`;
    return [`SELECT ${place} AS t, ${select(user)} FROM ${table} x ${rest(user)}`];
  });
}

/** Runs one query in the snapshot. */
type RunQuery = <R extends object>(sql: string, params?: readonly unknown[]) => Promise<R[]>;

/**
 * Whether the row written by transaction `xid` was written at or after the mark: no older than it
 * (`age` counts modulo 2^32 from one point for the statement; frozen rows are older than any; a
 * row frozen before a wraparound can look newer, and is only read again).
 */
function writtenSinceSql(mark32: number, xid: string): string {
  return `age(${xid}) BETWEEN 0 AND age('${mark32}'::xid)`;
}

/** Where this snapshot stands: its oldest running transaction, and what identifies the database. */
const MARK_SQL = `SELECT txid_snapshot_xmin(txid_current_snapshot())::text AS xmin,
    txid_snapshot_xmax(txid_current_snapshot())::text AS xmax,
    CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE')
      THEN (SELECT system_identifier::text FROM pg_control_system()) END AS system,
    CASE WHEN has_function_privilege('pg_control_checkpoint()', 'EXECUTE')
      THEN (SELECT timeline_id::text FROM pg_control_checkpoint()) END AS timeline,
    (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS database,
    (SELECT string_agg(c.relname || '=' || pg_relation_filenode(c.oid), ',' ORDER BY c.relname)
       FROM pg_class c WHERE c.oid IN (${CHANGE_TABLES.map(([t]) => `to_regclass('${t}')`).join(", ")})) AS files`;

/**
 * The change queries, on the source's connection (inside its snapshot); `over` spreads them over
 * the snapshot's other connections too.
 */
export function postgresUserChanges(client: pg.Client): UserChanges {
  /** The mark's 32 bits, once compared. */
  let mark32: number | null = null;
  /** The stage's bucket count: the compared mark's, else chosen by the first mark. */
  let buckets: number | null = null;
  const bucketCount = () => {
    if (buckets === null) throw new Error("take or compare a mark first");
    return buckets;
  };
  /** The condition on the row `x` (each table's alias in eachTable). */
  const since = () => {
    if (mark32 === null) throw new Error("compare the mark first (markComparable)");
    return writtenSinceSql(mark32, "x.xmin");
  };
  const mark = async (): Promise<Omit<ChangeMark, "buckets"> & { xmax: string }> => {
    const row = (
      await client.query<{
        xmin: string;
        xmax: string;
        system: string | null;
        timeline: string | null;
        database: string;
        files: string;
      }>(MARK_SQL)
    ).rows[0];
    if (row === undefined) throw new Error("no snapshot mark");
    // A restored, rebuilt or other database: its transaction ids say nothing about the stage's rows.
    const origin = JSON.stringify([row.system, row.timeline, row.database, row.files]);
    return { xmin: row.xmin, xmax: row.xmax, origin };
  };
  /** Per Synapse user with any row (of the text array `only`, a parameter): user, bucket, rows per table. */
  const rowCountsSql = (only?: string) => {
    const rows = eachTable(
      (user) => `${user} AS u, count(*) AS n`,
      (user) => `${only === undefined ? "" : `WHERE ${user} IN (SELECT unnest(${only}::text[]))`} GROUP BY ${user}`,
    ).join("\n  UNION ALL ");
    const counts = CHANGE_TABLES.map((_, place) => `coalesce(max(n) FILTER (WHERE t = ${place}), 0)::int`).join(", ");
    return `SELECT u, ${bucketOf("u", bucketCount())} AS b, ARRAY[${counts}] AS r FROM (${rows}) r GROUP BY u`;
  };
  const build = (run: RunQuery): UserChanges => {
    const all = async <R extends { t: number }>(sqls: string[], params?: readonly unknown[]): Promise<R[]> =>
      (await Promise.all(sqls.map((sql) => run<R>(sql, params)))).flat();
    return {
      tables: CHANGE_TABLES.map(([table]) => table),
      get buckets() {
        return bucketCount();
      },

      over: (queries) => build((sql, params) => queries.rows(sql, params)),

      async mark(): Promise<ChangeMark> {
        const { xmin, origin } = await mark();
        // A stage keeps the count it was made with: its users' buckets were counted with it.
        buckets ??= bucketsFor(Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM users")).rows[0]?.n ?? 0));
        return { xmin, origin, buckets };
      },

      async markComparable(previous: ChangeMark): Promise<boolean> {
        const now = await mark();
        const from = BigInt(previous.xmin);
        const span = BigInt(now.xmax) - from;
        if (now.origin !== previous.origin || BigInt(now.xmin) < from || span >= BigInt(XID_SPAN_LIMIT)) return false;
        if (!isBucketCount(previous.buckets)) return false;
        mark32 = Number(from & 0xffffffffn);
        buckets = previous.buckets;
        return true;
      },

      async writtenSince(): Promise<{ users: string[]; kept: number[] }> {
        // One user per row written (the row's age computed once): the older rows are the others.
        const rows = await all<{ t: number; total: string; users: string[] | null }>(
          eachTable((user) => `count(*) AS total, array_agg(${user}) FILTER (WHERE ${since()}) AS users`),
        );
        const kept = CHANGE_TABLES.map(() => 0);
        const users = new Set<string>();
        for (const row of rows) {
          kept[row.t] = Number(row.total) - (row.users?.length ?? 0);
          for (const user of row.users ?? []) users.add(user);
        }
        return { users: [...users].sort(), kept };
      },

      async keptOf(
        users: readonly string[],
        tables?: readonly number[],
      ): Promise<Map<string, { bucket: number; kept: number[] }>> {
        const rows = await all<{ t: number; u: string; b: number; n: string }>(
          eachTable(
            (user) => `${user} AS u, ${bucketOf(user, bucketCount())} AS b, count(*) FILTER (WHERE NOT ${since()}) AS n`,
            (user) => `WHERE ${user} IN (SELECT unnest($1::text[])) GROUP BY ${user}`,
            tables,
          ),
          [users],
        );
        const found = new Map<string, { bucket: number; kept: number[] }>();
        for (const row of rows) {
          const entry = found.get(row.u) ?? { bucket: Number(row.b), kept: CHANGE_TABLES.map(() => 0) };
          entry.kept[row.t] = Number(row.n);
          found.set(row.u, entry);
        }
        return found;
      },

      async keptByBucket(tables: readonly number[]): Promise<Map<number, Int32Array>> {
        // Two arrays per table, not a row per bucket: 65,536 rows per table cost tens of MB in the driver.
        const sqls = tables.map((place) => {
          const [table, column] = CHANGE_TABLES[place] as readonly [string, string];
          return `SELECT ${place} AS t, array_agg(b) AS b, array_agg(n) AS n
            FROM (SELECT ${bucketOf(`x.${column}`, bucketCount())} AS b, count(*)::int AS n FROM ${table} x
                   WHERE NOT ${since()} GROUP BY 1) g`;
        });
        const rows = await all<{ t: number; b: number[] | null; n: number[] | null }>(sqls);
        return new Map(rows.map((r) => [r.t, bucketVector(bucketCount(), r.b ?? [], r.n ?? [])]));
      },

      rowCounts(): Readable {
        return client.query(copyTo(`COPY (${rowCountsSql()}) TO STDOUT`));
      },

      async rowCountsOf(users: readonly string[]): Promise<UserRowCounts[]> {
        const rows = await run<{ u: string; b: number; r: number[] }>(rowCountsSql("$1"), [users]);
        return rows.map((row) => ({ user: row.u, bucket: row.b, rows: row.r }));
      },

      async sessionsEndingBetween(from: number, to: number): Promise<string[]> {
        const rows = await run<{ user_id: string }>(ENDING_SQL, [from, to]);
        return rows.map((r) => r.user_id);
      },
    };
  };
  return build(async (sql, params) => (await client.query(sql, params as unknown[])).rows);
}

/** The users with a refresh token whose session a run at `$1` kept and a run at `$2` leaves behind. */
const ENDING_SQL = `SELECT DISTINCT user_id FROM refresh_tokens r
  WHERE ${sqlSessionEnded("r", "$2")} AND NOT ${sqlSessionEnded("r", "$1")}`;
