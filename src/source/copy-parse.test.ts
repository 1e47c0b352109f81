import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeCopyField, parseCopyBatches } from "./copy-parse.ts";

async function* chunked(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe("COPY text parsing", () => {
  const fields: [string, string | null][] = [
    ["\\N", null],
    ["plain", "plain"],
    ["a\\tb\\nc\\\\d", "a\tb\nc\\d"],
    ["\\\\N", "\\N"],
    ["\\x41\\101", "AA"],
    ["Renamed ✓", "Renamed ✓"],
  ];
  for (const [raw, expect] of fields) it(`field ${JSON.stringify(raw)}`, () => assert.equal(decodeCopyField(raw), expect));

  it("rebuilds rows from chunks split inside lines and inside multi-byte characters", async () => {
    const text = "@a:example.com\t1\tRenamed ✓\n@b:example.com\t\\N\tx\\ty\n";
    for (const size of [1, 2, 3, 7, 1000]) {
      const rows = [];
      for await (const batch of parseCopyBatches(chunked(text, size), ["name", "n", "label"])) rows.push(...batch);
      assert.deepEqual(rows, [
        { name: "@a:example.com", n: "1", label: "Renamed ✓" },
        { name: "@b:example.com", n: null, label: "x\ty" },
      ]);
    }
  });
});
