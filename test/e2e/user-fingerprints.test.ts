/**
 * The per-user fingerprints a staged run compares (source/postgres/changes.ts), both ways of
 * hashing a row (PostgreSQL 14's record hash, and the text hash before it): one line per user
 * with any row, and a change to one row changes that user's fingerprint alone.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { synapseSmallSql } from "../harness/fixtures.ts";
import { fingerprintSql } from "../../src/source/postgres/changes.ts";

describe("per-user fingerprints of a Synapse database", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
    await cluster.createDatabase("synapse", { fromSqlFile: synapseSmallSql });
  });
  after(() => cluster?.stop());

  const read = async (hashesRecords: boolean): Promise<Map<string, string>> => {
    const rows = await cluster.sql<{ user_id: string; fingerprint: string }>("synapse", fingerprintSql(hashesRecords));
    return new Map(rows.map((r) => [r.user_id, r.fingerprint]));
  };

  for (const hashesRecords of [true, false]) {
    it(`${hashesRecords ? "record" : "text"} hash: every user with a row, and only a changed user's fingerprint changes`, async () => {
      const before = await read(hashesRecords);
      const users = await cluster.sql<{ user_id: string }>(
        "synapse",
        `SELECT name AS user_id FROM users UNION SELECT user_id FROM devices UNION SELECT user_id FROM access_tokens
         UNION SELECT user_id FROM user_threepids UNION SELECT user_id FROM user_external_ids UNION SELECT user_id FROM refresh_tokens`,
      );
      assert.deepEqual([...before.keys()].sort(), users.map((u) => u.user_id).sort());
      assert.deepEqual(await read(hashesRecords), before, "the same rows give the same fingerprints");
      await cluster.sql("synapse", "UPDATE devices SET hidden = NOT hidden WHERE user_id = '@user0010:example.com'");
      try {
        const after = await read(hashesRecords);
        const changed = [...after.keys()].filter((u) => after.get(u) !== before.get(u));
        assert.deepEqual(changed, ["@user0010:example.com"]);
      } finally {
        await cluster.sql("synapse", "UPDATE devices SET hidden = NOT hidden WHERE user_id = '@user0010:example.com'");
      }
    });
  }
});
