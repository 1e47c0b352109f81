/** Per-run deterministic ids: the same natural key gets the same ULID in every phase of one run. */
import { createHash, randomBytes } from "node:crypto";
import { ulidFromParts, type MasId } from "../model/ids.ts";

/**
 * Returns a `deriveId(timeMs, naturalKey)` keyed with 32 random bytes: ids cannot be predicted
 * from Synapse data, collide with probability ~2^-80 per pair, and need no map of every user.
 */
export function runIdDeriver(key: Buffer = randomBytes(32)): (timeMs: number, naturalKey: string) => MasId {
  return (timeMs, naturalKey) =>
    ulidFromParts(timeMs, createHash("sha256").update(key).update(naturalKey).digest("hex").slice(0, 20));
}
