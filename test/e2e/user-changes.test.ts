/**
 * The change queries a staged run asks Synapse's PostgreSQL (source/postgres/changes.ts), on the
 * real fixture: a mark, then rows written, updated and deleted by another connection; the next
 * snapshot finds exactly the users written to, and the rows deleted by counting.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { text } from "node:stream/consumers";
import pg from "pg";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { synapseSmallSql } from "../harness/fixtures.ts";
import { openPostgresSource } from "../../src/source/postgres/source.ts";
import { CHANGE_TABLES } from "../../src/source/postgres/changes.ts";
import type { ChangeMark, SynapseSource, UserChanges } from "../../src/source/source.ts";

describe("finding what changed in a Synapse database since a mark", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
    await cluster.createDatabase("synapse", { fromSqlFile: synapseSmallSql });
  });
  after(() => cluster?.stop());

  /** Runs `work` on a fresh snapshot's change queries. */
  const inSnapshot = async <T>(work: (changes: UserChanges) => Promise<T>): Promise<T> => {
    const client = new pg.Client(cluster.uri("synapse"));
    await client.connect();
    let source: SynapseSource | undefined;
    try {
      source = await openPostgresSource(client);
      return await work(source.changes as UserChanges);
    } finally {
      await source?.close();
      await client.end();
    }
  };

  /** Rows per user and table, counted plainly. */
  const countsNow = async (): Promise<Map<string, number[]>> => {
    const counts = new Map<string, number[]>();
    for (const [place, [table, column]] of CHANGE_TABLES.entries()) {
      const rows = await cluster.sql<{ u: string; n: string }>(
        "synapse",
        `SELECT ${column} AS u, count(*) AS n FROM ${table} GROUP BY 1`,
      );
      for (const { u, n } of rows) {
        const row = counts.get(u) ?? CHANGE_TABLES.map(() => 0);
        row[place] = Number(n);
        counts.set(u, row);
      }
    }
    return counts;
  };

  it("counts every user's rows per table, finds the users written to, and the rows deleted", async () => {
    const [writtenUser, deletingUser] = (
      await cluster.sql<{ user_id: string }>(
        "synapse",
        `SELECT user_id FROM devices WHERE user_id IN (SELECT user_id FROM user_threepids) GROUP BY 1 ORDER BY 1 LIMIT 2`,
      )
    ).map((r) => r.user_id);
    assert.ok(writtenUser !== undefined && deletingUser !== undefined);
    const { mark, lines } = await inSnapshot(async (changes) => ({
      mark: await changes.mark(),
      lines: await text(changes.rowCounts()),
    }));

    // The fixture's few users: the fewest buckets.
    assert.equal(mark.buckets, 1024);
    // Every user with any row, once, with its rows per table as a plain count gives them.
    const staged = new Map(
      lines
        .trim()
        .split("\n")
        .map((line) => {
          const [user, bucket, rows] = line.split("\t");
          assert.ok(Number(bucket) >= 0 && Number(bucket) < mark.buckets);
          return [user as string, (rows as string).slice(1, -1).split(",").map(Number)];
        }),
    );
    assert.deepEqual(staged, await countsNow());

    await cluster.sql(
      "synapse",
      `UPDATE devices SET display_name = 'renamed' WHERE user_id = '${writtenUser}';
       DELETE FROM user_threepids WHERE user_id = '${deletingUser}'`,
    );
    await inSnapshot(async (changes) => {
      assert.equal(await changes.markComparable(mark), true);
      assert.equal(changes.buckets, 1024, "the compared mark's bucket count");
      const { users, kept } = await changes.writtenSince();
      assert.deepEqual(users, [writtenUser], "only the user with an updated row");
      const devicesOfWritten = staged.get(writtenUser)?.[3] ?? 0;
      const threepidsOfDeleting = staged.get(deletingUser)?.[1] ?? 0;
      const totals = CHANGE_TABLES.map((_, t) => [...staged.values()].reduce((a, rows) => a + (rows[t] ?? 0), 0));
      assert.equal(kept[3], (totals[3] ?? 0) - devicesOfWritten, "updated devices are no longer older than the mark");
      assert.equal(kept[1], (totals[1] ?? 0) - threepidsOfDeleting, "deleted threepids are gone");
      const bucketOf = new Map(
        lines
          .trim()
          .split("\n")
          .map((l) => [l.split("\t")[0] as string, Number(l.split("\t")[1])]),
      );
      assert.deepEqual(
        await changes.keptOf([writtenUser]),
        new Map([
          [writtenUser, { bucket: bucketOf.get(writtenUser), kept: staged.get(writtenUser)?.map((n, t) => (t === 3 ? 0 : n)) }],
        ]),
      );

      // The deleting user's bucket lost threepids, and no other; per user in it, only they did.
      const byBucket = (await changes.keptByBucket([1])).get(1) ?? new Int32Array(changes.buckets);
      const bucketsBefore = new Map<number, number>();
      for (const [user, rows] of staged) {
        if ((rows[1] ?? 0) === 0) continue;
        const b = bucketOf.get(user) as number;
        bucketsBefore.set(b, (bucketsBefore.get(b) ?? 0) + (rows[1] ?? 0));
      }
      const fell = [...bucketsBefore.keys()].filter((b) => byBucket[b] !== bucketsBefore.get(b));
      assert.equal(
        byBucket.reduce((a, n) => a + n, 0),
        [...bucketsBefore.values()].reduce((a, n) => a + n, 0) - (staged.get(deletingUser)?.[1] ?? 0),
        "every bucket but one as before",
      );
      assert.deepEqual(fell, [bucketOf.get(deletingUser)]);
      // Looked up by user, the deleting user alone lost rows.
      const inBucket = [...bucketOf].filter(([, b]) => b === fell[0]).map(([user]) => user);
      const keptNow = await changes.keptOf(inBucket);
      const lost = inBucket.filter((user) => (keptNow.get(user)?.kept[1] ?? 0) !== (staged.get(user)?.[1] ?? 0));
      assert.deepEqual(lost, [deletingUser]);
    });

    // A mark from another database, from ahead of this one, or without a bucket count (an earlier
    // syn2mas's) cannot be compared.
    const elsewhere: ChangeMark = { ...mark, origin: "another database" };
    const ahead: ChangeMark = { ...mark, xmin: String(BigInt(mark.xmin) + 1000000n) };
    const { buckets: _, ...withoutBuckets } = mark;
    await inSnapshot(async (changes) => {
      assert.equal(await changes.markComparable(elsewhere), false);
      assert.equal(await changes.markComparable(ahead), false);
      assert.equal(await changes.markComparable(withoutBuckets as ChangeMark), false);
      assert.equal(await changes.markComparable({ ...mark, buckets: 3000 }), false);
      // A stage with more buckets than its users would get today keeps its own.
      assert.equal(await changes.markComparable({ ...mark, buckets: 65536 }), true);
      assert.equal(changes.buckets, 65536);
      assert.equal((await changes.mark()).buckets, 65536);
    });
  });
});
