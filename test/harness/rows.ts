/** Rows as the harness's `sql` returns them, and the conversions assertions on them need. */

export type Row = Record<string, unknown>;

/** A timestamptz column as milliseconds (what Synapse stores), null staying null. */
export function ms(value: unknown): number | null {
  return value === null ? null : (value as Date).getTime();
}
