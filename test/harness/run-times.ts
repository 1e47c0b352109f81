/**
 * A migration gives the rows Synapse keeps no time for (a device with no last_seen whose tokens
 * all stay behind, a user with no creation time, ...) the run's own time, as `created_at`: two
 * runs at two instants differ there and nowhere else. Comparisons of two migrations set those
 * differences apart, exactly: the column is `created_at`, and its values are each run's time.
 */
import type pg from "pg";
import type { MasDifference } from "./mas-compare.ts";

/** The time of the migration recorded in MAS (its `run_started_at`), as the comparator prints times. */
export async function recordedRunTime(client: pg.ClientBase): Promise<string> {
  const result = await client.query<{ t: string }>(
    `SELECT to_char(run_started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t
       FROM syn2mas.migrations ORDER BY committed_at DESC LIMIT 1`,
  );
  const time = result.rows[0]?.t;
  if (time === undefined) throw new Error("no migration recorded in this MAS database");
  return time;
}

/** The differences other than a `created_at` that is each side's run time. */
export function besidesRunTimes(differences: readonly MasDifference[], timeA: string, timeB: string): MasDifference[] {
  const runTimesOnly = `created_at: a ${timeA}, b ${timeB}`;
  return differences.filter((d) => !(d.side === "different" && d.detail === runTimesOnly));
}
