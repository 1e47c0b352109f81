import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ulidTimeMs } from "../model/ids.ts";
import { runIdDeriver } from "./run-ids.ts";

describe("per-run ids", () => {
  it("gives the same key the same id within a run, and the time part asked for", () => {
    const derive = runIdDeriver(Buffer.from("0102030405060708", "hex"));
    const id = derive(1795406856000, "user\0@alice:example.com");
    assert.equal(derive(1795406856000, "user\0@alice:example.com"), id);
    assert.equal(ulidTimeMs(id), 1795406856000);
  });
  it("gives another run other ids", () => {
    const a = runIdDeriver(Buffer.from("0102030405060708", "hex"));
    const b = runIdDeriver(Buffer.from("0102030405060709", "hex"));
    assert.notEqual(a(0, "user\0@alice:example.com"), b(0, "user\0@alice:example.com"));
  });
  it("does not collide over 300,000 similar keys", () => {
    const derive = runIdDeriver();
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      for (const key of [`user\0@u${i}:example.com`, `access\0${i}`, `device\0@u${i}:example.com\0DEV${i}1`]) {
        seen.add(derive(0, key));
      }
    }
    assert.equal(seen.size, 300_000);
  });
});
