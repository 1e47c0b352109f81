/** Per-run deterministic ids: the same natural key gets the same ULID in every phase of one run. */
import { randomBytes } from "node:crypto";
import { ulidFromWords, type MasId } from "../model/ids.ts";

/**
 * Two 32-bit lanes of a seeded multiplicative string hash (cyrb53's mixing, without truncation).
 * Ids need uniqueness within a run, not secrecy, and a cryptographic hash per row cost about a
 * tenth of the whole run at 100k users. A collision could only fail the run at the index rebuild
 * (a unique violation, rolled back), never mix two users.
 */
function lanes(text: string, seed: number): [number, number] {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/**
 * Returns a `deriveId(timeMs, naturalKey)` seeded with random bits: ids differ between runs, need
 * no map of every user, and carry 80 bits besides the time (96 hashed, from two seeds).
 */
export function runIdDeriver(seedBytes: Buffer = randomBytes(8)): (timeMs: number, naturalKey: string) => MasId {
  const seedA = seedBytes.readUInt32LE(0);
  const seedB = seedBytes.readUInt32LE(4);
  return (timeMs, naturalKey) => {
    const [a1, a2] = lanes(naturalKey, seedA);
    const [b1] = lanes(naturalKey, seedB);
    return ulidFromWords(timeMs, a1, a2, b1);
  };
}
