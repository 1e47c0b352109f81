/**
 * The stage of an online migration: a schema of the tool's own in MAS's database, which MAS never
 * reads, holding copies of the tables the tool writes (MAS's own definitions: columns, keys,
 * indexes, under the same names), per Synapse user the rows of each table it was filled from, and
 * what the runs that filled it need to agree on.
 *
 * `prepare` fills it while Synapse runs; the cut-over moves its tables into MAS's schema in one
 * transaction (MAS's empty tables dropped, the stage's moved in, the foreign keys between them and
 * MAS's other tables added back): MAS's tables are untouched until that transaction commits.
 */
import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { UserError } from "../errors/user-error.ts";
import type { MasId } from "../model/ids.ts";
import { bucketVector, type UserRowCounts } from "../model/user-buckets.ts";
import type { MasTableName } from "../model/mas.ts";
import type { SynapseMarks } from "../model/synapse-marks.ts";
import { captureConstraints, captureForeignKeys, foreignKeyName, runAll, type ForeignKey } from "./constraints.ts";
import { TABLE_ORDER } from "./tables.ts";
import type { TxClient } from "./transaction.ts";

export const STAGE_SCHEMA = "syn2mas_stage";

/** What the stage's runs must agree on, and where it stands. */
export interface StageState {
  /** The seed of the ids (run-ids.ts): every run of one stage derives the same ids. */
  seed: Buffer;
  /** When the first prepare started (ms). */
  createdAt: number;
  /** When the stage was last brought up to date: its snapshot's "now" (ms). */
  updatedAt: number;
  /** A digest of the settings the mapping depends on (server name, providers, links). */
  setupDigest: string;
  /** A digest of MAS's definitions of the tables written: the stage's are copies of them. */
  schemaDigest: string;
  toolVersion: string;
  /** Rows per table in the stage. */
  counts: Partial<Record<MasTableName, number>>;
  /** Synapse's high-water marks in the snapshot the stage was last brought up to date from. */
  synapseMarks: SynapseMarks;
  /** Synapse users with any row. */
  users: number;
  /** Where Synapse's snapshot stood when the stage was last brought up to date (source's ChangeMark). */
  mark: StageMark | null;
}

/** Where Synapse's snapshot stood (the source's ChangeMark, kept as it comes). */
export interface StageMark {
  xmin: string;
  origin: string;
  buckets: number;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The stage's tables (copies of MAS's) in write order, qualified. */
const STAGED = TABLE_ORDER.map((t) => `${STAGE_SCHEMA}.${t}`);

/** Whether a stage exists (a committed prepare). */
export async function stageExists(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ found: boolean }>("SELECT to_regclass($1) IS NOT NULL AS found", [`${STAGE_SCHEMA}.meta`]);
  return result.rows[0]?.found === true;
}

/** The stage's state, or null when there is none. */
export async function readStage(client: pg.ClientBase): Promise<StageState | null> {
  if (!(await stageExists(client))) return null;
  const result = await client.query<{
    seed: Buffer;
    created_ms: string;
    updated_ms: string;
    setup_digest: string;
    schema_digest: string;
    tool_version: string;
    counts: Partial<Record<MasTableName, number>>;
    synapse_marks: SynapseMarks;
    change_mark: StageMark | null;
    users: string;
    bucket_sums: boolean;
  }>(
    `SELECT seed, created_ms, updated_ms, setup_digest, schema_digest, tool_version, counts, synapse_marks,
            to_jsonb(m) -> 'change_mark' AS change_mark,
            (SELECT count(*) FROM ${STAGE_SCHEMA}.synapse_users) AS users,
            to_regclass('${STAGE_SCHEMA}.synapse_buckets') IS NOT NULL AS bucket_sums
       FROM ${STAGE_SCHEMA}.meta m`,
  );
  const row = result.rows[0];
  if (row === undefined) return null;
  return {
    seed: row.seed,
    createdAt: Number(row.created_ms),
    updatedAt: Number(row.updated_ms),
    setupDigest: row.setup_digest,
    schemaDigest: row.schema_digest,
    toolVersion: row.tool_version,
    counts: row.counts,
    synapseMarks: row.synapse_marks,
    users: Number(row.users),
    // A stage of an earlier syn2mas keeps no sums per bucket: its mark is not used (it is made again).
    mark: row.bucket_sums ? row.change_mark : null,
  };
}

/**
 * A digest of MAS's definitions of the tables written (columns, keys, indexes, foreign keys): a
 * stage made from other definitions (MAS upgraded since) is made again.
 */
export async function masSchemaDigest(client: pg.ClientBase): Promise<string> {
  const columns = await client.query<{ t: string; c: string; type: string; nullable: string; def: string | null }>(
    `SELECT table_name AS t, column_name AS c, data_type AS type, is_nullable AS nullable, column_default AS def
       FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ANY($1)
      ORDER BY table_name, ordinal_position`,
    [TABLE_ORDER],
  );
  const saved = await captureConstraints(client, TABLE_ORDER);
  return createHash("sha256")
    .update(JSON.stringify([columns.rows, saved.rebuilds]))
    .digest("hex");
}

/**
 * Makes an empty stage: the tables as MAS defines them now, with their keys, indexes and the
 * foreign keys between them under MAS's names (the cut-over moves them as they are, valid: no
 * scan of their rows while MAS is down). Left out, for the cut-over to add: the foreign keys to
 * MAS's other tables, and those whose referencing columns no index leads (deleting a changed
 * user's password scanned every password, per row: 1.1 s for 1,100 users at 100k, measured).
 * Replaces a stage that was there.
 */
export async function createStage(
  tx: TxClient,
  state: Omit<StageState, "users" | "counts" | "synapseMarks" | "mark">,
): Promise<void> {
  const masSchema = await currentSchema(tx);
  const saved = await captureConstraints(tx, TABLE_ORDER, { foreignKeys: "indexed-among" });
  await tx.query(`DROP SCHEMA IF EXISTS ${STAGE_SCHEMA} CASCADE`);
  await tx.query(`CREATE SCHEMA ${STAGE_SCHEMA}`);
  for (const table of TABLE_ORDER) {
    await tx.query(
      `CREATE TABLE ${STAGE_SCHEMA}.${table} (LIKE ${quoteIdent(masSchema)}.${table}
         INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE)`,
    );
  }
  // MAS's statements name its schema's tables: run them in the stage's (index definitions are qualified).
  const qualified = ` ON ${quoteIdent(masSchema)}.`;
  const plain = ` ON ${masSchema}.`;
  await inStage(tx, () =>
    runAll(
      tx,
      saved.rebuilds.map((sql) => sql.replace(qualified, " ON ").replace(plain, " ON ")),
    ),
  );
  await tx.query(
    `CREATE TABLE ${STAGE_SCHEMA}.synapse_users (
       user_id text PRIMARY KEY,
       bucket integer NOT NULL,
       rows integer[] NOT NULL,
       time_dependent boolean NOT NULL DEFAULT false)`,
  );
  // Kept with the users' rows, so that a delta does not add up every user's to compare buckets.
  await tx.query(`CREATE TABLE ${STAGE_SCHEMA}.synapse_buckets (bucket integer PRIMARY KEY, rows integer[] NOT NULL)`);
  await tx.query(
    `CREATE TABLE ${STAGE_SCHEMA}.meta (
       seed bytea NOT NULL, created_ms bigint NOT NULL, updated_ms bigint NOT NULL,
       setup_digest text NOT NULL, schema_digest text NOT NULL, tool_version text NOT NULL,
       counts jsonb NOT NULL, synapse_marks jsonb NOT NULL, change_mark jsonb)`,
  );
  await tx.query(`INSERT INTO ${STAGE_SCHEMA}.meta VALUES ($1, $2, $3, $4, $5, $6, '{}', '{}', NULL)`, [
    state.seed,
    state.createdAt,
    state.updatedAt,
    state.setupDigest,
    state.schemaDigest,
    state.toolVersion,
  ]);
}

async function currentSchema(client: pg.ClientBase): Promise<string> {
  return (await client.query<{ s: string }>("SELECT current_schema() AS s")).rows[0]?.s as string;
}

/**
 * Runs `work` with the stage searched first: the loader's `COPY users ...` and the index rebuild's
 * statements then reach the stage's tables, not MAS's (which has the same names after it), while
 * what MAS's definitions name unqualified (pg_trgm's operator classes) is still found.
 */
export async function inStage<T>(tx: TxClient, work: () => Promise<T>): Promise<T> {
  const previous = (await tx.query<{ p: string }>("SELECT current_setting('search_path') AS p")).rows[0]?.p as string;
  await tx.query("SELECT set_config('search_path', $1, true)", [`${STAGE_SCHEMA}, ${previous}`]);
  // Not in a finally: after a failure the transaction only takes ROLLBACK (which resets it anyway).
  const result = await work();
  await tx.query("SELECT set_config('search_path', $1, true)", [previous]);
  return result;
}

const USER_ROWS_COLUMNS = "(user_id, bucket, rows)";

/** `ARRAY[sum(rows[1]), ..., sum(rows[tables])]` over the users' rows (of `synapse_users` as `u`), times `sign`. */
const sumsSql = (tables: number, sign: 1 | -1 = 1) =>
  `ARRAY[${Array.from({ length: tables }, (_, i) => `${sign} * coalesce(sum(u.rows[${i + 1}]), 0)`).join(", ")}]::int[]`;

/** Adds (`sign` 1) or takes away (-1) the rows of the staged users `users` to or from their buckets' sums. */
async function addToBuckets(tx: TxClient, users: readonly string[], tables: number, sign: 1 | -1): Promise<void> {
  const each = Array.from({ length: tables }, (_, i) => `b.rows[${i + 1}] + excluded.rows[${i + 1}]`).join(", ");
  await tx.query(
    `INSERT INTO ${STAGE_SCHEMA}.synapse_buckets AS b (bucket, rows)
       SELECT u.bucket, ${sumsSql(tables, sign)} FROM ${STAGE_SCHEMA}.synapse_users u WHERE u.user_id = ANY($1) GROUP BY u.bucket
     ON CONFLICT (bucket) DO UPDATE SET rows = ARRAY[${each}]`,
    [users],
  );
}

/**
 * A first prepare: every Synapse user's rows per table (COPY text from the source's rowCounts, of
 * `tables` tables), and their sums per bucket.
 */
export async function saveAllUserRows(
  tx: TxClient,
  lines: Readable,
  tables: number,
  timeDependent: ReadonlySet<string>,
): Promise<void> {
  await pipeline(lines, tx.query(copyFrom(`COPY ${STAGE_SCHEMA}.synapse_users ${USER_ROWS_COLUMNS} FROM STDIN`)));
  await tx.query(
    `INSERT INTO ${STAGE_SCHEMA}.synapse_buckets SELECT u.bucket, ${sumsSql(tables)} FROM ${STAGE_SCHEMA}.synapse_users u GROUP BY 1`,
  );
  await tx.query(`UPDATE ${STAGE_SCHEMA}.synapse_users SET time_dependent = true WHERE user_id = ANY($1)`, [[...timeDependent]]);
}

/**
 * After a delta: the users read again have their rows per table as they are now (`counts`: of
 * those users, `tables` tables each), their buckets' sums less their old rows and plus the new.
 */
export async function saveChangedUserRows(
  tx: TxClient,
  changed: readonly string[],
  counts: readonly UserRowCounts[],
  tables: number,
  timeDependent: ReadonlySet<string>,
): Promise<void> {
  await addToBuckets(tx, changed, tables, -1);
  await tx.query(`DELETE FROM ${STAGE_SCHEMA}.synapse_users WHERE user_id = ANY($1)`, [changed]);
  await tx.query(
    `INSERT INTO ${STAGE_SCHEMA}.synapse_users ${USER_ROWS_COLUMNS}
       SELECT u, b, string_to_array(r, ',')::int[] FROM unnest($1::text[], $2::int[], $3::text[]) AS x(u, b, r)`,
    [counts.map((c) => c.user), counts.map((c) => c.bucket), counts.map((c) => c.rows.join(","))],
  );
  await addToBuckets(
    tx,
    counts.map((c) => c.user),
    tables,
    1,
  );
  await tx.query(`UPDATE ${STAGE_SCHEMA}.synapse_users SET time_dependent = true WHERE user_id = ANY($1)`, [[...timeDependent]]);
}

/** The users whose rows took a run's own time: read again by every run. */
export async function timeDependentUsers(tx: TxClient): Promise<string[]> {
  const result = await tx.query<{ user_id: string }>(`SELECT user_id FROM ${STAGE_SCHEMA}.synapse_users WHERE time_dependent`);
  return result.rows.map((r) => r.user_id);
}

/** Per table (in the source's order), every staged user's rows. */
export async function stagedRows(tx: TxClient, tables: number): Promise<number[]> {
  const sums = Array.from({ length: tables }, (_, i) => `coalesce(sum(rows[${i + 1}]), 0)::text`).join(", ");
  const result = await tx.query<{ n: string[] }>(`SELECT ARRAY[${sums}] AS n FROM ${STAGE_SCHEMA}.synapse_buckets`);
  return Array.from({ length: tables }, (_, i) => Number(result.rows[0]?.n[i] ?? 0));
}

/** Per staged user of `users`, their bucket and rows per table. */
export async function stagedRowsOf(
  tx: TxClient,
  users: readonly string[],
): Promise<Map<string, { bucket: number; rows: number[] }>> {
  const result = await tx.query<{ user_id: string; bucket: number; rows: number[] }>(
    `SELECT user_id, bucket, rows FROM ${STAGE_SCHEMA}.synapse_users WHERE user_id = ANY($1)`,
    [users],
  );
  return new Map(result.rows.map((r) => [r.user_id, { bucket: r.bucket, rows: r.rows }]));
}

/**
 * Per table of `tables` (places in the source's order), per bucket of users (the index, below
 * `buckets`), the staged users' rows: two arrays per table, not a row per bucket (driver memory).
 */
export async function stagedRowsByBucket(
  tx: TxClient,
  tables: readonly number[],
  buckets: number,
): Promise<Map<number, Int32Array>> {
  const arrays = tables.map((t) => `array_agg(rows[${t + 1}]) AS n${t}`).join(", ");
  const result = await tx.query<Record<string, number[] | null>>(
    `SELECT array_agg(bucket) AS b, ${arrays} FROM ${STAGE_SCHEMA}.synapse_buckets`,
  );
  const row = result.rows[0] ?? {};
  return new Map(tables.map((t) => [t, bucketVector(buckets, row.b ?? [], row[`n${t}`] ?? [])]));
}

/** The staged users of these buckets, each with its bucket and rows per table. */
export async function stagedUsersInBuckets(
  tx: TxClient,
  buckets: readonly number[],
): Promise<Map<string, { bucket: number; rows: number[] }>> {
  const result = await tx.query<{ user_id: string; bucket: number; rows: number[] }>(
    `SELECT user_id, bucket, rows FROM ${STAGE_SCHEMA}.synapse_users WHERE bucket = ANY($1::int[])`,
    [buckets],
  );
  return new Map(result.rows.map((r) => [r.user_id, { bucket: r.bucket, rows: r.rows }]));
}

/**
 * Per stage table: its primary key's columns; the indexed column that ties a row to a changed
 * user (the user's id, or for tokens their session's); and the columns that reference another
 * stage table (named as that table's key).
 */
const STAGE_ROWS: Record<
  MasTableName,
  {
    key: readonly string[];
    owner: "user_id" | "compat_session_id";
    references: readonly [column: string, table: MasTableName][];
  }
> = {
  users: { key: ["user_id"], owner: "user_id", references: [] },
  user_passwords: { key: ["user_password_id"], owner: "user_id", references: [["user_id", "users"]] },
  user_emails: { key: ["user_email_id"], owner: "user_id", references: [["user_id", "users"]] },
  user_unsupported_third_party_ids: {
    key: ["user_id", "medium", "address"],
    owner: "user_id",
    references: [["user_id", "users"]],
  },
  upstream_oauth_links: { key: ["upstream_oauth_link_id"], owner: "user_id", references: [["user_id", "users"]] },
  compat_sessions: { key: ["compat_session_id"], owner: "user_id", references: [["user_id", "users"]] },
  compat_access_tokens: {
    key: ["compat_access_token_id"],
    owner: "compat_session_id",
    references: [["compat_session_id", "compat_sessions"]],
  },
  compat_refresh_tokens: {
    key: ["compat_refresh_token_id"],
    owner: "compat_session_id",
    references: [
      ["compat_session_id", "compat_sessions"],
      ["compat_access_token_id", "compat_access_tokens"],
    ],
  },
};

const changedRowsName = (table: MasTableName) => `changed_${table}`;

/** Where a delta loads its rows of `table` before they are compared with the stage's. */
export function changedRowsTable(table: MasTableName): string {
  return `pg_temp.${changedRowsName(table)}`;
}

/** Makes the tables a delta loads its rows into: the stage tables' columns, no keys, dropped at commit. */
export async function createChangedRowsTables(tx: TxClient): Promise<void> {
  for (const table of TABLE_ORDER) {
    await tx.query(
      `CREATE TEMPORARY TABLE ${changedRowsName(table)} (LIKE ${STAGE_SCHEMA}.${table} INCLUDING DEFAULTS) ON COMMIT DROP`,
    );
  }
}

/**
 * Brings the stage rows of the MAS users named `usernames` (those a delta read again) to the rows
 * just loaded into the changed-rows tables, the stage's foreign keys in place:
 * 1. leaving: their stage rows whose key no loaded row has with the same references (gone, or
 *    moved to another parent), and the rows that reference a leaving row (found parents first);
 *    deleted children first;
 * 2. a row whose key and references stay but whose other columns changed is updated in place (its
 *    children stay, and no key is checked again);
 * 3. the loaded rows whose key the stage lacks are inserted, parents first.
 * Most of a changed user's rows are as they were (the same ids: the stage's seed): they are not
 * written at all. Returns the rows deleted and inserted per table (updates change no count).
 */
export async function applyChangedRows(
  tx: TxClient,
  usernames: readonly string[],
): Promise<{ deleted: Partial<Record<MasTableName, number>>; inserted: Partial<Record<MasTableName, number>> }> {
  const s = STAGE_SCHEMA;
  // The stage was vacuumed after the last prepare: a few thousand probes by index beat a scan of
  // millions of rows, which the default cost of a random read (4) makes the planner prefer.
  const previousCost = (await tx.query<{ c: string }>("SELECT current_setting('random_page_cost') AS c")).rows[0]?.c ?? "4";
  await tx.query("SELECT set_config('random_page_cost', '1.1', true)");
  await tx.query(`CREATE TEMPORARY TABLE scope_users ON COMMIT DROP AS SELECT user_id FROM ${s}.users WHERE username = ANY($1)`, [
    usernames,
  ]);
  await tx.query(
    `CREATE TEMPORARY TABLE scope_sessions ON COMMIT DROP AS
       SELECT compat_session_id FROM ${s}.compat_sessions WHERE user_id IN (SELECT user_id FROM pg_temp.scope_users)`,
  );
  // Their sizes, for the planner: probes by index for a few users, hash joins for many.
  await tx.query(`ANALYZE pg_temp.scope_users, pg_temp.scope_sessions, ${TABLE_ORDER.map(changedRowsTable).join(", ")}`);
  const scope = {
    user_id: "SELECT user_id FROM pg_temp.scope_users",
    compat_session_id: "SELECT compat_session_id FROM pg_temp.scope_sessions",
  };
  const leaving = (table: MasTableName) => `pg_temp.leaving_${table}`;
  const sameKey = (table: MasTableName, a: string, b: string) =>
    STAGE_ROWS[table].key.map((k) => `${a}.${k} = ${b}.${k}`).join(" AND ");
  for (const table of TABLE_ORDER) {
    const { key, owner, references } = STAGE_ROWS[table];
    const keys = key.map((k) => `o.${k}`).join(", ");
    const sameReferences = references.map(([column]) => ` AND n.${column} = o.${column}`).join("");
    // One query per reason (a union, not an OR: each is then a join, not a subquery per row).
    const goneOrMoved = `SELECT ${keys} FROM ${s}.${table} o WHERE o.${owner} IN (${scope[owner]})
      AND NOT EXISTS (SELECT 1 FROM ${changedRowsTable(table)} n WHERE ${sameKey(table, "n", "o")}${sameReferences})`;
    const orphaned = references.map(
      ([column, parent]) => `SELECT ${keys} FROM ${s}.${table} o WHERE o.${column} IN (SELECT ${column} FROM ${leaving(parent)})`,
    );
    await tx.query(`CREATE TEMPORARY TABLE leaving_${table} ON COMMIT DROP AS ${[goneOrMoved, ...orphaned].join(" UNION ")}`);
    await tx.query(`ANALYZE ${leaving(table)}`);
  }
  const deleted: Partial<Record<MasTableName, number>> = {};
  for (const table of [...TABLE_ORDER].reverse()) {
    const result = await tx.query(`DELETE FROM ${s}.${table} o USING ${leaving(table)} g WHERE ${sameKey(table, "o", "g")}`);
    deleted[table] = result.rowCount ?? 0;
  }
  const columns = await tx.query<{ t: MasTableName; c: string[] }>(
    `SELECT c.relname AS t, array_agg(quote_ident(a.attname) ORDER BY a.attnum) AS c
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.relnamespace = $1::regnamespace AND c.relname = ANY($2) GROUP BY 1`,
    [s, TABLE_ORDER],
  );
  for (const { t: table, c } of columns.rows) {
    const set = c.filter((column) => !STAGE_ROWS[table].key.includes(column)).map((column) => `${column} = n.${column}`);
    if (set.length === 0) continue;
    await tx.query(
      `UPDATE ${s}.${table} o SET ${set.join(", ")} FROM ${changedRowsTable(table)} n
        WHERE ${sameKey(table, "o", "n")} AND ROW(n.*) IS DISTINCT FROM ROW(o.*)`,
    );
  }
  const inserted: Partial<Record<MasTableName, number>> = {};
  for (const table of TABLE_ORDER) {
    const result = await tx.query(
      `INSERT INTO ${s}.${table} SELECT n.* FROM ${changedRowsTable(table)} n
        WHERE NOT EXISTS (SELECT 1 FROM ${s}.${table} o WHERE ${sameKey(table, "o", "n")})`,
    );
    inserted[table] = result.rowCount ?? 0;
  }
  const temporary = [
    "pg_temp.scope_users",
    "pg_temp.scope_sessions",
    ...TABLE_ORDER.map(leaving),
    ...TABLE_ORDER.map(changedRowsTable),
  ];
  await tx.query(`DROP TABLE ${temporary.join(", ")}`);
  await tx.query("SELECT set_config('random_page_cost', $1, true)", [previousCost]);
  return { deleted, inserted };
}

/** The MAS providers the stage's upstream links point at (none without a stage). */
export async function stagedLinkProviders(client: pg.ClientBase): Promise<MasId[]> {
  if (!(await stageExists(client))) return [];
  const result = await client.query<{ id: MasId }>(
    `SELECT DISTINCT upstream_oauth_provider_id AS id FROM ${STAGE_SCHEMA}.upstream_oauth_links`,
  );
  return result.rows.map((r) => r.id);
}

/** Records where the stage stands after a run. */
export async function saveStageProgress(
  tx: TxClient,
  progress: { updatedAt: number; counts: Partial<Record<MasTableName, number>>; synapseMarks: SynapseMarks; mark: StageMark },
): Promise<void> {
  await tx.query(`UPDATE ${STAGE_SCHEMA}.meta SET updated_ms = $1, counts = $2, synapse_marks = $3, change_mark = $4`, [
    progress.updatedAt,
    JSON.stringify(progress.counts),
    JSON.stringify(progress.synapseMarks),
    JSON.stringify(progress.mark),
  ]);
}

/** How long the cut-over waits for a lock on MAS's tables (MAS must be stopped). */
const LOCK_TIMEOUT = "15s";

/** The stage's valid foreign keys, by {@link foreignKeyName}. */
async function stageForeignKeys(tx: TxClient): Promise<Set<string>> {
  const result = await tx.query<{ table: string; name: string }>(
    `SELECT r.relname AS table, c.conname AS name
       FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
      WHERE c.contype = 'f' AND c.convalidated AND r.relnamespace = $1::regnamespace`,
    [STAGE_SCHEMA],
  );
  return new Set(result.rows.map(foreignKeyName));
}

/**
 * Moves the stage's tables into MAS's schema, in the caller's transaction: MAS's tables (which
 * must be empty) are dropped and the stage's moved in with their indexes and the foreign keys
 * between them, every other foreign key to or from them added back NOT VALID (no scan of the rows
 * while MAS is down), owner and grants as MAS's were. The stage is then gone. A failure anywhere
 * rolls it all back with the transaction. Returns the foreign keys added back, to validate once it
 * has committed ({@link validateForeignKey}).
 */
export async function moveStageIntoMas(tx: TxClient): Promise<ForeignKey[]> {
  const masSchema = await currentSchema(tx);
  await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
  await tx.query(`LOCK TABLE ${TABLE_ORDER.join(", ")} IN ACCESS EXCLUSIVE MODE`);
  for (const table of TABLE_ORDER) {
    const rows = await tx.query(`SELECT 1 FROM ${table} LIMIT 1`);
    if (rows.rowCount !== 0) {
      throw new UserError(
        `MAS's table ${table} has rows: the stage can only replace empty tables`,
        "run `syn2mas check` to see what MAS holds, and `syn2mas rollback` if an earlier migration wrote it",
      );
    }
  }
  const foreignKeys = await captureForeignKeys(tx, TABLE_ORDER);
  // Moved in with the stage's tables, already valid (a stage made before it kept them has none).
  const moved = await stageForeignKeys(tx);
  const addedBack = foreignKeys.filter((k) => !moved.has(foreignKeyName(k)));
  const access = await tx.query<{ t: string; owner: string; grants: string[] | null }>(
    `SELECT c.relname AS t, pg_get_userbyid(c.relowner) AS owner,
            (SELECT array_agg(format('GRANT %s ON %I TO %s', a.privilege_type, c.relname,
                      CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END))
               FROM aclexplode(c.relacl) a) AS grants
       FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)`,
    [TABLE_ORDER],
  );
  await runAll(
    tx,
    foreignKeys.map((k) => k.drop),
  );
  await tx.query(`DROP TABLE ${TABLE_ORDER.join(", ")}`);
  for (const staged of STAGED) await tx.query(`ALTER TABLE ${staged} SET SCHEMA ${quoteIdent(masSchema)}`);
  await runAll(
    tx,
    addedBack.map((k) => k.addNotValid),
  );
  for (const { t, owner, grants } of access.rows) {
    await tx.query(`ALTER TABLE ${quoteIdent(t)} OWNER TO ${quoteIdent(owner)}`);
    await runAll(tx, grants ?? []);
  }
  await dropStage(tx);
  return addedBack;
}

/**
 * After a prepare has committed: vacuums and analyzes the stage's tables, so that the next run's
 * deletes find the rows by index with their pages already marked visible (a freshly loaded table
 * is rewritten by the first scan that reads it), and the cut-over moves tables MAS can plan over.
 */
export async function tidyStage(client: pg.ClientBase): Promise<void> {
  await client.query(
    `VACUUM (ANALYZE) ${[...STAGED, `${STAGE_SCHEMA}.synapse_users`, `${STAGE_SCHEMA}.synapse_buckets`].join(", ")}`,
  );
}

/** Removes the stage, if any. */
export async function dropStage(client: pg.ClientBase): Promise<void> {
  await client.query(`DROP SCHEMA IF EXISTS ${STAGE_SCHEMA} CASCADE`);
}
