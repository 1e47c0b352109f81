import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyTextBatches, CopyTextBatch, RowObjectBatch, unescapeCopyText, type FieldReader } from "./field-reader.ts";

async function* chunked(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** One batch of COPY text lines. */
function copyText(...lines: string[]): CopyTextBatch {
  const text = lines.map((l) => `${l}\n`).join("");
  return new CopyTextBatch(text, text.length);
}

/** Reads (text, int, flag, bool) from every row. */
function readAll(f: FieldReader): unknown[][] {
  const rows: unknown[][] = [];
  while (f.nextRow()) rows.push([f.text(), f.int(), f.flag(), f.bool()]);
  return rows;
}

describe("reading COPY text field by field", () => {
  const escaped: [string, string][] = [
    ["a\\tb\\nc\\\\d", "a\tb\nc\\d"],
    ["\\\\N", "\\N"],
    ["\\x41\\101", "AA"],
    ["Renamed ✓", "Renamed ✓"],
  ];
  for (const [raw, expect] of escaped) it(`unescapes ${JSON.stringify(raw)}`, () => assert.equal(unescapeCopyText(raw), expect));

  it("reads texts, NULLs, integers, smallint flags and booleans", () => {
    const f = copyText("@a:example.com\t1795406856636\t1\tt", "\\N\t\\N\t\\N\t\\N", "x\\ty\t-42\t0\tf", "\\\\N\t\t2\t1");
    assert.deepEqual(readAll(f), [
      ["@a:example.com", 1795406856636, true, true],
      [null, null, false, false],
      ["x\ty", -42, false, false],
      ["\\N", null, true, true],
    ]);
  });

  it("reads integers too long for exact fast parsing, and odd ones, exactly as Number does", () => {
    const f = copyText("9007199254740993", "12.5", "-", "1e3");
    const values: (number | null)[] = [];
    while (f.nextRow()) values.push(f.int());
    assert.deepEqual(values, [9007199254740992, 12.5, null, 1000]);
  });

  it("skips fields, treats missing trailing fields as NULL, and starts each row at its own line", () => {
    const f = copyText("a\tb\tc\td", "e");
    assert.ok(f.nextRow());
    assert.equal(f.isNull(), false);
    f.skip(2);
    assert.equal(f.text(), "d");
    assert.equal(f.text(), null, "past the last field");
    assert.ok(f.nextRow());
    f.skip(5);
    assert.equal(f.int(), null);
    assert.equal(f.isNull(), true);
    assert.equal(f.nextRow(), false);
  });

  it("hands back the same string for a repeated text, and a new one otherwise", () => {
    const same = "@dev:example.com";
    const f = copyText(`${same}\tx\\\\y`, "@other:example.com\tx\\\\y");
    assert.ok(f.nextRow());
    assert.equal(f.textOr(same), same);
    assert.equal(f.textOr("x\\y"), "x\\y", "an escaped text equal to the previous one");
    assert.ok(f.nextRow());
    assert.equal(f.textOr(same), "@other:example.com");
    assert.equal(f.textOr(undefined), "x\\y");
  });

  it("rebuilds rows from chunks split inside lines and inside multi-byte characters", async () => {
    const text = "@a:example.com\t1\tRenamed ✓\n@b:example.com\t\\N\tx\\ty\n@c:example.com\t3\tlast, no newline";
    for (const size of [1, 2, 3, 7, 1000]) {
      const rows: unknown[][] = [];
      for await (const f of copyTextBatches(chunked(text, size))) {
        while (f.nextRow()) rows.push([f.text(), f.int(), f.text()]);
      }
      assert.deepEqual(rows, [
        ["@a:example.com", 1, "Renamed ✓"],
        ["@b:example.com", null, "x\ty"],
        ["@c:example.com", 3, "last, no newline"],
      ]);
    }
  });
});

describe("reading driver rows field by field", () => {
  it("decodes SQLite's values as the COPY text of the same PostgreSQL row decodes", () => {
    const columns = ["name", "ts", "admin", "hidden"];
    const sqlite = new RowObjectBatch(
      [
        { name: "@a:example.com", ts: 1795406856636, admin: 1, hidden: 1, extra: "ignored" },
        { name: null, ts: null, admin: null, hidden: null },
        { name: "x\ty", ts: -42, admin: 0, hidden: 0 },
      ],
      columns,
    );
    const postgres = copyText("@a:example.com\t1795406856636\t1\tt", "\\N\t\\N\t\\N\t\\N", "x\\ty\t-42\t0\tf");
    assert.deepEqual(readAll(sqlite), readAll(postgres));
  });
});
