/**
 * A run that fails elsewhere while a Synapse read is streaming (a MAS error mid-phase) stops that
 * read and closes the source without waiting: a ROLLBACK queued behind the unfinished COPY used to
 * wait forever, and `verify` hung instead of exiting 1.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { syntheticSynapseSql } from "../../bench/synthetic.ts";
import { openPostgresSource } from "../../src/source/postgres/source.ts";
import { synapseSchemaSql } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";

describe("a Synapse read abandoned mid-stream", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
    await cluster.createDatabase("synapse", { fromSqlFile: synapseSchemaSql });
    // 60,000 devices: far more than the socket buffers hold, so the COPY is still sending.
    await cluster.sql("synapse", syntheticSynapseSql(30_000));
  });
  after(async () => {
    await cluster.stop();
  });

  it("closes at once after the consumer stops, and the connection ends", async () => {
    const client = new pg.Client({ connectionString: cluster.uri("synapse") });
    await client.connect();
    const source = await openPostgresSource(client);
    let rows = 0;
    for await (const batch of source.readDevices()) {
      rows += batch.length;
      break;
    }
    assert.ok(rows > 0, "some devices were read");
    const closed = await Promise.race([
      source.close().then(() => "closed"),
      new Promise((resolve) => setTimeout(() => resolve("still waiting after 5 s"), 5000)),
    ]);
    assert.equal(closed, "closed");
    await client.end();
    const sessions = await cluster.sql<{ n: number }>(
      "postgres",
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'synapse' AND pid <> pg_backend_pid()",
    );
    assert.equal(sessions[0]?.n, 0, "the reading session is gone");
  });
});
