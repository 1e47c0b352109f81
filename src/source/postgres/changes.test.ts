import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bucketsFor } from "./changes.ts";

describe("bucketsFor", () => {
  const cases: [users: number, buckets: number][] = [
    [0, 1024],
    [16384, 1024],
    [16385, 2048],
    [100000, 8192],
    [1000000, 65536],
    [1048576, 65536],
    [1048577, 131072],
    [4194304, 262144],
    [50000000, 262144],
  ];
  for (const [users, buckets] of cases) {
    it(`${users} users: ${buckets} buckets`, () => assert.equal(bucketsFor(users), buckets));
  }
});
