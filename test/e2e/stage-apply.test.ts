/**
 * How a delta brings a changed user's stage rows to the rows it just mapped (target/stage.ts
 * applyChangedRows), on MAS's real schema with the stage's foreign keys in place: equal rows stay,
 * a changed row is replaced, the rows that reference a replaced row are replaced with it (even when
 * equal), a row whose reference moved is replaced, a vanished row goes, and another user's rows
 * are not touched.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { masEmptySql } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import {
  applyChangedRows,
  changedRowsTable,
  createChangedRowsTables,
  createStage,
  STAGE_SCHEMA,
} from "../../src/target/stage.ts";
import type { TxClient } from "../../src/target/transaction.ts";

/** Ids by role: u = user, s = session, a = access token, r = refresh token. */
const id = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, "0")}`;
const ALICE = id(1);
const BOB = id(2);
const [S1, S2, S3, SB] = [id(11), id(12), id(13), id(19)];
const [A1, A2, A3, A4, AB] = [id(21), id(22), id(23), id(24), id(29)];
const [R1, RB] = [id(31), id(39)];
const T = "2026-01-01T00:00:00Z";

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

  it("keeps equal rows, replaces changed ones with the rows that reference them, and leaves other users alone", async () => {
    const client = new pg.Client(cluster.uri("mas"));
    await client.connect();
    const tx = client as TxClient;
    try {
      await tx.query("BEGIN");
      const state = { seed: Buffer.alloc(8), createdAt: 0, updatedAt: 0, setupDigest: "", schemaDigest: "", toolVersion: "" };
      await createStage(tx, state);
      for (const sql of rows((t) => `${STAGE_SCHEMA}.${t}`, "staged")) await tx.query(sql);
      const before = await tx.query<{ ctid: string; t: string }>(
        `SELECT 'users' AS t, ctid::text FROM ${STAGE_SCHEMA}.users WHERE user_id = '${BOB}'`,
      );
      await createChangedRowsTables(tx);
      for (const sql of rows((t) => changedRowsTable(t as never), "mapped")) await tx.query(sql);

      const { deleted, inserted } = await applyChangedRows(tx, ["alice"]);

      // Alice's row changed (locked): it and every row that references it leave, then come back as mapped.
      // So all of Alice's rows are replaced here but for nothing: check the counts, then the contents.
      assert.deepEqual(
        { deleted: deleted.compat_sessions, inserted: inserted.compat_sessions },
        { deleted: 3, inserted: 2 },
        "the sessions of a replaced user are replaced with it",
      );
      assert.equal(deleted.users, 1);
      assert.equal(inserted.users, 1);
      assert.equal(deleted.compat_access_tokens, 4);
      assert.equal(inserted.compat_access_tokens, 3);
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
      const after = await tx.query<{ ctid: string; t: string }>(
        `SELECT 'users' AS t, ctid::text FROM ${STAGE_SCHEMA}.users WHERE user_id = '${BOB}'`,
      );
      assert.deepEqual(after.rows, before.rows, "Bob's row is the same row version: untouched");
      const refresh = await tx.query(`SELECT 1 FROM ${STAGE_SCHEMA}.compat_refresh_tokens`);
      assert.equal(refresh.rowCount, 2);
    } finally {
      await tx.query("ROLLBACK");
      await client.end();
    }
  });

  it("keeps every row of a changed user whose rows are all as they were, and replaces only a changed session's tokens", async () => {
    const client = new pg.Client(cluster.uri("mas"));
    await client.connect();
    const tx = client as TxClient;
    try {
      await tx.query("BEGIN");
      const state = { seed: Buffer.alloc(8), createdAt: 0, updatedAt: 0, setupDigest: "", schemaDigest: "", toolVersion: "" };
      await createStage(tx, state);
      for (const sql of rows((t) => `${STAGE_SCHEMA}.${t}`, "staged")) await tx.query(sql);
      await createChangedRowsTables(tx);
      // Alice as staged but unlocked: her users row is equal, so only S2 (changed), S3 (gone) and their tokens move.
      for (const sql of rows((t) => changedRowsTable(t as never), "mapped")) {
        await tx.query(sql.replace(`'${T}', '${T}')`, `'${T}', NULL)`));
      }
      const versions = async () =>
        (
          await tx.query<{ k: string }>(
            `SELECT compat_session_id || ctid::text AS k FROM ${STAGE_SCHEMA}.compat_sessions ORDER BY 1`,
          )
        ).rows;
      const before = await versions();
      const { deleted, inserted } = await applyChangedRows(tx, ["alice"]);
      assert.deepEqual(deleted, {
        compat_refresh_tokens: 0,
        compat_access_tokens: 3,
        compat_sessions: 2,
        upstream_oauth_links: 0,
        user_unsupported_third_party_ids: 0,
        user_emails: 0,
        user_passwords: 0,
        users: 0,
      });
      assert.deepEqual(inserted, {
        users: 0,
        user_passwords: 0,
        user_emails: 0,
        user_unsupported_third_party_ids: 0,
        upstream_oauth_links: 0,
        compat_sessions: 1,
        compat_access_tokens: 2,
        compat_refresh_tokens: 0,
      });
      const after = await versions();
      assert.ok(
        after.some((v) => v.k === before.find((b) => b.k.startsWith(S1))?.k),
        "S1, equal, is the same row version",
      );
    } finally {
      await tx.query("ROLLBACK");
      await client.end();
    }
  });
});
