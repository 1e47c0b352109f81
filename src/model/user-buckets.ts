/** Counts per bucket of users (a hash of the id), as the online migration compares them. */

/** A vector of `size` counts, from the buckets that have any and their counts (the rest 0). */
export function bucketVector(size: number, buckets: readonly number[], counts: readonly number[]): Int32Array {
  const vector = new Int32Array(size);
  buckets.forEach((bucket, i) => (vector[bucket] = counts[i] ?? 0));
  return vector;
}

/** A Synapse user's bucket and rows per table (in the source's order), as a stage keeps them. */
export interface UserRowCounts {
  user: string;
  bucket: number;
  rows: number[];
}
