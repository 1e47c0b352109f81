import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { subjectHash } from "./links.ts";

describe("subjectHash: the collision check's first pass", () => {
  it("gives equal subjects equal hashes, whole numbers below 2^53", () => {
    for (const subject of ["", "alice", "CgcyMzQyNzQ5EgZnaXRodWI", "zoë.müller", "x".repeat(10_000)]) {
      const hash = subjectHash(subject);
      assert.equal(hash, subjectHash(subject.slice()));
      assert.ok(Number.isSafeInteger(hash) && hash >= 0, `${hash}`);
    }
  });

  it("tells apart subjects that differ in one unit, in order, or by a prefix, and 200,000 numbered ones", () => {
    const near = ["alice", "alicf", "Alice", "ecila", "alice ", "alic", "a\u0000lice", "zoë", "zoe\u0308"];
    assert.equal(new Set(near.map(subjectHash)).size, near.length);
    const many = Array.from({ length: 200_000 }, (_, i) => `user${i}`);
    assert.equal(new Set(many.map(subjectHash)).size, many.length);
  });
});
