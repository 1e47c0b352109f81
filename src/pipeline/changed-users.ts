/**
 * Which Synapse users a staged run reads again: those with a row written since the stage's mark
 * (new and updated rows, found by their row versions), those with a row deleted since (found by
 * counting), those whose rows took a run's own time, and those whose session ended since.
 *
 * Deleted rows are found without reading every user's rows: per table, the rows older than the
 * mark are counted (in the same scan that finds the written ones) and compared with the stage's
 * counts, leaving out the users read again anyway. Only a table whose count fell is looked at
 * closer: counted per bucket of users (a hash of the id), then per user in the buckets whose count
 * fell. A user outside the written ones can only have lost rows, so equal counts mean equal rows.
 */
import type { UserChanges } from "../source/source.ts";
import {
  stagedRows,
  stagedRowsByBucket,
  stagedRowsOf,
  stagedUsersInBuckets,
  timeDependentUsers,
  type StageState,
} from "../target/stage.ts";
import type { TxClient } from "../target/transaction.ts";

/** The indexes (buckets) whose counts differ between two vectors. */
export function differingBuckets(now: Int32Array, then: Int32Array): number[] {
  const found: number[] = [];
  for (let b = 0; b < Math.max(now.length, then.length); b++) if ((now[b] ?? 0) !== (then[b] ?? 0)) found.push(b);
  return found;
}

/**
 * The users with a row deleted since the mark, among those with no row written since (`written`,
 * read again anyway); per table, `keptTotal`: the rows older than the mark, `stagedTotal`: the
 * stage's rows.
 */
async function usersWithDeletedRows(
  tx: TxClient,
  changes: UserChanges,
  written: readonly string[],
  keptTotal: readonly number[],
  stagedTotal: readonly number[],
): Promise<string[]> {
  const [writtenNow, writtenThen] = await Promise.all([changes.keptOf(written), stagedRowsOf(tx, written)]);
  // The other users' rows per table, now and as staged: equal unless one of them lost rows.
  const others = (total: number, table: number, perUser: Iterable<number[]>) =>
    [...perUser].reduce((left, rows) => left - (rows[table] ?? 0), total);
  const now = [...writtenNow.values()].map((w) => w.kept);
  const then = [...writtenThen.values()].map((w) => w.rows);
  const fell = changes.tables
    .map((_, t) => t)
    .filter((t) => others(keptTotal[t] ?? 0, t, now) !== others(stagedTotal[t] ?? 0, t, then));
  if (fell.length === 0) return [];
  const [nowByBucket, thenByBucket] = await Promise.all([
    changes.keptByBucket(fell),
    stagedRowsByBucket(tx, fell, changes.buckets),
  ]);
  // Per bucket, the tables whose count fell in it.
  const fellIn = new Map<number, number[]>();
  for (const t of fell) {
    const now = nowByBucket.get(t) ?? new Int32Array(changes.buckets);
    const then = thenByBucket.get(t) ?? new Int32Array(changes.buckets);
    // The written users are read again anyway: their rows are left out on both sides.
    for (const { bucket, kept } of writtenNow.values()) now[bucket] = (now[bucket] ?? 0) - (kept[t] ?? 0);
    for (const { bucket, rows } of writtenThen.values()) then[bucket] = (then[bucket] ?? 0) - (rows[t] ?? 0);
    for (const bucket of differingBuckets(now, then)) fellIn.set(bucket, [...(fellIn.get(bucket) ?? []), t]);
  }
  // Their other users, each looked up by index: a few per bucket, in the tables that fell there
  // alone (where a bucket's count of a table did not fall, none of its users lost rows of it).
  const writtenSet = new Set(written);
  const candidates = [...(await stagedUsersInBuckets(tx, [...fellIn.keys()]))].filter(([user]) => !writtenSet.has(user));
  const fellFor = (bucket: number) => fellIn.get(bucket) ?? [];
  const nowByTable = new Map(
    await Promise.all(
      fell.map(async (t) => {
        const users = candidates.filter(([, { bucket }]) => fellFor(bucket).includes(t)).map(([user]) => user);
        return [t, await changes.keptOf(users, [t])] as const;
      }),
    ),
  );
  return candidates
    .filter(([user, { bucket, rows }]) => fellFor(bucket).some((t) => (nowByTable.get(t)?.get(user)?.kept[t] ?? 0) !== rows[t]))
    .map(([user]) => user);
}

/**
 * The users a delta reads again (sorted), in the source's snapshot, against a stage whose mark
 * `changes.markComparable` accepted.
 */
export async function usersToReread(tx: TxClient, changes: UserChanges, stage: StageState, now: number): Promise<string[]> {
  // The stage's side, one query at a time on MAS's connection, while Synapse's tables are scanned.
  const staged = (async () => ({
    totals: await stagedRows(tx, changes.tables.length),
    timeDependent: await timeDependentUsers(tx),
  }))();
  staged.catch(() => undefined); // awaited below; not unhandled if the scans fail first
  const [{ users: written, kept }, ending] = await Promise.all([
    changes.writtenSince(),
    changes.sessionsEndingBetween(stage.updatedAt, now),
  ]);
  const { totals, timeDependent } = await staged;
  const deleted = await usersWithDeletedRows(tx, changes, written, kept, totals);
  return [...new Set([...written, ...deleted, ...ending, ...timeDependent])].sort();
}
