/**
 * How a delta brings a changed user's stage rows to the rows it just mapped (target/stage.ts
 * applyChangedRows), on MAS's real schema with the stage's foreign keys in place: equal rows stay
 * as they are, a changed row is updated in place, a vanished row goes, a row that moved to another
 * parent is replaced with the rows that reference it (even when equal), and another user's rows
 * are not touched. And the sums per bucket of the users' Synapse rows, which a delta compares, stay
 * equal to the users' own counts as those change.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import pg from "pg";
import { masEmptySql } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import {
  applyChangedRows,
  changedRowsTable,
  createChangedRowsTables,
  createStage,
  saveAllUserRows,
  saveChangedUserRows,
  STAGE_SCHEMA,
  stagedRows,
  stagedRowsByBucket,
} from "../../src/target/stage.ts";
import type { MasTableName } from "../../src/model/mas.ts";
import type { TxClient } from "../../src/target/transaction.ts";

/** Ids by role: u = user, s = session, a = access token, r = refresh token. */
const id = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, "0")}`;
const ALICE = id(1);
const BOB = id(2);
const [S1, S2, S3, SB] = [id(11), id(12), id(13), id(19)];
const [A1, A2, A3, A4, AB] = [id(21), id(22), id(23), id(24), id(29)];
const [R1, RB] = [id(31), id(39)];
const T = "2026-01-01T00:00:00Z";

type Counts = Partial<Record<MasTableName, number>>;
/** Rows deleted and inserted in users, compat_sessions, compat_access_tokens, compat_refresh_tokens. */
const changes = (applied: { deleted: Counts; inserted: Counts }) => {
  const tables = ["users", "compat_sessions", "compat_access_tokens", "compat_refresh_tokens"] as const;
  return { deleted: tables.map((t) => applied.deleted[t]), inserted: tables.map((t) => applied.inserted[t]) };
};

/** The rows of one state, as INSERT statements into the tables named by `into`. */
function rows(into: (table: string) => string, state: "staged" | "mapped"): string[] {
  const alice = state === "staged" ? `('${ALICE}', 'alice', '${T}', NULL)` : `('${ALICE}', 'alice', '${T}', '${T}')`;
  const sessions =
    state === "staged"
      ? [`('${S1}', '${ALICE}', 'D1', '${T}')`, `('${S2}', '${ALICE}', 'D2', '${T}')`, `('${S3}', '${ALICE}', 'D3', '${T}')`]
      : // S2's device is seen again (a column changed); S3 is gone; S1 as it was.
        [`('${S1}', '${ALICE}', 'D1', '${T}')`, `('${S2}', '${ALICE}', 'D2', '2026-02-01T00:00:00Z')`];
  const tokens =
    state === "staged"
      ? [`('${A1}', '${S1}', 'tok1')`, `('${A2}', '${S2}', 'tok2')`, `('${A3}', '${S3}', 'tok3')`, `('${A4}', '${S1}', 'tok4')`]
      : // A2 as it was (its session changed); A4 moved to S2; A3 gone with S3.
        [`('${A1}', '${S1}', 'tok1')`, `('${A2}', '${S2}', 'tok2')`, `('${A4}', '${S2}', 'tok4')`];
  const refresh = [`('${R1}', '${S1}', '${A1}', 'ref1', '${T}')`];
  const bob = state === "staged";
  return [
    `INSERT INTO ${into("users")} (user_id, username, created_at, locked_at) VALUES ${alice}${bob ? `, ('${BOB}', 'bob', '${T}', NULL)` : ""}`,
    `INSERT INTO ${into("compat_sessions")} (compat_session_id, user_id, device_id, created_at) VALUES ${sessions.join(", ")}${
      bob ? `, ('${SB}', '${BOB}', 'DB', '${T}')` : ""
    }`,
    `INSERT INTO ${into("compat_access_tokens")} (compat_access_token_id, compat_session_id, access_token, created_at)
       SELECT t.id::uuid, t.s::uuid, t.tok, '${T}' FROM (VALUES ${tokens.join(", ")}${bob ? `, ('${AB}', '${SB}', 'tokb')` : ""}) t(id, s, tok)`,
    `INSERT INTO ${into("compat_refresh_tokens")} (compat_refresh_token_id, compat_session_id, compat_access_token_id, refresh_token, created_at)
       VALUES ${refresh.join(", ")}${bob ? `, ('${RB}', '${SB}', '${AB}', 'refb', '${T}')` : ""}`,
  ];
}

describe("a delta's rows applied to the stage", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
    await cluster.createDatabase("mas", { fromSqlFile: masEmptySql("1.22.0") });
  });
  after(() => cluster?.stop());

  /** Runs `work` in a transaction on MAS's database with an empty stage, then rolls it all back. */
  const withStage = async (work: (tx: TxClient) => Promise<void>): Promise<void> => {
    const client = new pg.Client(cluster.uri("mas"));
    await client.connect();
    const tx = client as TxClient;
    try {
      await tx.query("BEGIN");
      const state = { seed: Buffer.alloc(8), createdAt: 0, updatedAt: 0, setupDigest: "", schemaDigest: "", toolVersion: "" };
      await createStage(tx, state);
      await work(tx);
    } finally {
      await tx.query("ROLLBACK");
      await client.end();
    }
  };
  const versionOf = async (tx: TxClient, table: string, column: string, value: string): Promise<string | undefined> =>
    (await tx.query<{ v: string }>(`SELECT ctid::text AS v FROM ${STAGE_SCHEMA}.${table} WHERE ${column} = $1`, [value])).rows[0]
      ?.v;

  it("updates changed rows in place, deletes gone and moved ones, inserts new ones, and leaves other users alone", async () => {
    await withStage(async (tx) => {
      for (const sql of rows((t) => `${STAGE_SCHEMA}.${t}`, "staged")) await tx.query(sql);
      const bob = await versionOf(tx, "users", "user_id", BOB);
      const a2 = await versionOf(tx, "compat_access_tokens", "compat_access_token_id", A2);
      await createChangedRowsTables(tx);
      for (const sql of rows((t) => changedRowsTable(t as never), "mapped")) await tx.query(sql);

      const { deleted, inserted } = await applyChangedRows(tx, ["alice"]);

      // Alice locked and S2 seen again: updated in place. S3 gone with A3; A4 moved from S1 to S2.
      assert.deepEqual(changes({ deleted, inserted }), { deleted: [0, 1, 2, 0], inserted: [0, 0, 1, 0] });
      const sessions = await tx.query<{ id: string; device_id: string; created_at: Date }>(
        `SELECT compat_session_id AS id, device_id, created_at FROM ${STAGE_SCHEMA}.compat_sessions ORDER BY 1`,
      );
      assert.deepEqual(
        sessions.rows.map((r) => [r.id, r.device_id, r.created_at.toISOString()]),
        [
          [S1, "D1", "2026-01-01T00:00:00.000Z"],
          [S2, "D2", "2026-02-01T00:00:00.000Z"],
          [SB, "DB", "2026-01-01T00:00:00.000Z"],
        ],
      );
      const tokens = await tx.query<{ id: string; s: string }>(
        `SELECT compat_access_token_id AS id, compat_session_id AS s FROM ${STAGE_SCHEMA}.compat_access_tokens ORDER BY 1`,
      );
      assert.deepEqual(
        tokens.rows.map((r) => [r.id, r.s]),
        [
          [A1, S1],
          [A2, S2],
          [A4, S2],
          [AB, SB],
        ],
      );
      const locked = await tx.query<{ username: string; locked: boolean }>(
        `SELECT username, locked_at IS NOT NULL AS locked FROM ${STAGE_SCHEMA}.users ORDER BY 1`,
      );
      assert.deepEqual(locked.rows, [
        { username: "alice", locked: true },
        { username: "bob", locked: false },
      ]);
      assert.equal(await versionOf(tx, "users", "user_id", BOB), bob, "Bob's row is the same row version: untouched");
      assert.equal(await versionOf(tx, "compat_access_tokens", "compat_access_token_id", A2), a2, "A2 stays as S2 changes");
      assert.equal((await tx.query(`SELECT 1 FROM ${STAGE_SCHEMA}.compat_refresh_tokens`)).rowCount, 2);
    });
  });

  it("keeps the sums per bucket of the users' rows equal to their rows as users change, come and go", async () => {
    await withStage(async (tx) => {
      // Three tables; buckets 1 (ann, ben) and 2 (cid).
      const lines = ["@ann:x\t1\t{1,2,0}", "@ben:x\t1\t{1,0,3}", "@cid:x\t2\t{1,1,1}"].join("\n") + "\n";
      await saveAllUserRows(tx, Readable.from([lines]), 3, new Set(["@cid:x"]));
      const buckets = async () =>
        (
          await tx.query<{ bucket: number; rows: number[] }>(
            `SELECT bucket, rows FROM ${STAGE_SCHEMA}.synapse_buckets ORDER BY 1`,
          )
        ).rows;
      assert.deepEqual(await buckets(), [
        { bucket: 1, rows: [2, 2, 3] },
        { bucket: 2, rows: [1, 1, 1] },
      ]);
      assert.deepEqual(await stagedRows(tx, 3), [3, 3, 4]);

      // Ann lost a row of the 2nd table, Cid is gone, Dan is new (bucket 2), Ben unchanged but read again.
      await saveChangedUserRows(
        tx,
        ["@ann:x", "@ben:x", "@cid:x", "@dan:x"],
        [
          { user: "@ann:x", bucket: 1, rows: [1, 1, 0] },
          { user: "@ben:x", bucket: 1, rows: [1, 0, 3] },
          { user: "@dan:x", bucket: 2, rows: [1, 0, 5] },
        ],
        3,
        new Set(),
      );
      assert.deepEqual(await buckets(), [
        { bucket: 1, rows: [2, 1, 3] },
        { bucket: 2, rows: [1, 0, 5] },
      ]);
      const byBucket = await stagedRowsByBucket(tx, [1, 2], 4);
      assert.deepEqual([...(byBucket.get(1) ?? [])], [0, 1, 0, 0]);
      assert.deepEqual([...(byBucket.get(2) ?? [])], [0, 3, 5, 0]);
      assert.deepEqual(await stagedRows(tx, 3), [3, 1, 8]);
      // The same as adding up every user's rows.
      const added = await tx.query<{ bucket: number; rows: number[] }>(
        `SELECT bucket, ARRAY[sum(rows[1]), sum(rows[2]), sum(rows[3])]::int[] AS rows FROM ${STAGE_SCHEMA}.synapse_users GROUP BY 1 ORDER BY 1`,
      );
      assert.deepEqual(await buckets(), added.rows);
    });
  });

  it("replaces a row that moved to another parent together with the equal rows that reference it", async () => {
    await withStage(async (tx) => {
      for (const sql of rows((t) => `${STAGE_SCHEMA}.${t}`, "staged")) await tx.query(sql);
      await createChangedRowsTables(tx);
      // S1 now Bob's (its key unchanged); A1 and R1, which reference it, as they were.
      await tx.query(
        `INSERT INTO ${changedRowsTable("users")} SELECT * FROM ${STAGE_SCHEMA}.users WHERE user_id = '${ALICE}';
         INSERT INTO ${changedRowsTable("compat_sessions")} (compat_session_id, user_id, device_id, created_at)
           VALUES ('${S1}', '${BOB}', 'D1', '${T}');
         INSERT INTO ${changedRowsTable("compat_access_tokens")}
           SELECT * FROM ${STAGE_SCHEMA}.compat_access_tokens WHERE compat_access_token_id = '${A1}';
         INSERT INTO ${changedRowsTable("compat_refresh_tokens")} SELECT * FROM ${STAGE_SCHEMA}.compat_refresh_tokens
           WHERE compat_refresh_token_id = '${R1}'`,
      );
      const { deleted, inserted } = await applyChangedRows(tx, ["alice"]);
      // Alice's other sessions (S2, S3) and their tokens are gone; S1, A1 and R1 leave and come back.
      assert.deepEqual(changes({ deleted, inserted }), { deleted: [0, 3, 4, 1], inserted: [0, 1, 1, 1] });
      const s1 = await tx.query<{ user_id: string }>(
        `SELECT user_id FROM ${STAGE_SCHEMA}.compat_sessions WHERE compat_session_id = '${S1}'`,
      );
      assert.deepEqual(s1.rows, [{ user_id: BOB }]);
      const pair = await tx.query(
        `SELECT 1 FROM ${STAGE_SCHEMA}.compat_refresh_tokens r JOIN ${STAGE_SCHEMA}.compat_access_tokens a USING (compat_access_token_id)
          WHERE r.compat_refresh_token_id = '${R1}' AND a.compat_session_id = '${S1}'`,
      );
      assert.equal(pair.rowCount, 1);
    });
  });
});
