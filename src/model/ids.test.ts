import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ulidFromParts, ulidFromWords, ulidTextToUuid, ulidTimeMs, uuidToUlidText } from "./ids.ts";

describe("ids", () => {
  it("puts the time in the first 48 bits", () => {
    const id = ulidFromParts(1795406856000, "0123456789abcdef0123");
    assert.equal(ulidTimeMs(id), 1795406856000);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(id.replace(/-/g, "").slice(12), "0123456789abcdef0123");
  });

  it("builds the same id from words as from hex parts", () => {
    for (const time of [0, 1, 1795406856000, 2 ** 48 - 1, 4294967296, 4294967295]) {
      assert.equal(ulidFromWords(time, 0x01234567, 0x89abcdef, 0xfedc0000 | 0x1234), ulidFromParts(time, "0123456789abcdeffedc"));
    }
    assert.equal(ulidFromWords(0, 0, 0, 0), "00000000-0000-0000-0000-000000000000");
  });

  it("clamps times outside the 48-bit range", () => {
    assert.equal(ulidTimeMs(ulidFromParts(-5, "00000000000000000000")), 0);
    assert.equal(ulidTimeMs(ulidFromParts(2 ** 50, "00000000000000000000")), 2 ** 48 - 1);
  });

  it("decodes the fixture's provider ULIDs to the ids mas-cli config sync wrote", () => {
    assert.equal(ulidTextToUuid("01JSHPZHAXC50QBKH67MH33TNF"), "0196636f-c55d-6141-75ce-263d2231eaaf");
    assert.equal(ulidTextToUuid("01JSHQ3M8W5V0X7T2NPRB6KD4C"), "01966371-d11c-2ec1-d3e8-55b61669b48c");
    assert.equal(uuidToUlidText("0196636f-c55d-6141-75ce-263d2231eaaf"), "01JSHPZHAXC50QBKH67MH33TNF");
  });

  it("rejects text that is not a ULID", () => {
    assert.equal(ulidTextToUuid("not-a-ulid"), undefined);
    assert.equal(ulidTextToUuid("81JSHPZHAXC50QBKH67MH33TNF"), undefined);
    assert.equal(ulidTextToUuid("01JSHPZHAXC50QBKH67MH33TNU"), undefined);
  });
});
