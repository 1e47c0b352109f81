import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { ulidTextToUuid } from "../model/ids.ts";
import { parseLinkFile, readLinkFile } from "./link-file.ts";
import { assertUserError } from "../../test/harness/user-error.ts";
import { scratchDir } from "../../test/harness/scratch.ts";

const KC = "01JBZ3Q5K0V8W4YF8E2C9M7T6D";
const GH = "01JBZ3Q5K0V8W4YF8E2C9M7T6E";
const HEADER = "user_id,provider,subject\n";

describe("--link-file FILE.csv", () => {
  it("reads each row as a link of its user, in the file's order, with its line", () => {
    const text =
      HEADER +
      `@alice:example.com,${KC},f81d4fae-7dec-11d0-a765-00a0c91e6bf6\n` +
      "\n" +
      `"@bob:example.com",${GH},"a,b ""quoted"" subject"\n` +
      `@alice:example.com,${GH},12345\n`;
    const { path: file, byUser } = parseLinkFile("links.csv", text);
    assert.equal(file, "links.csv");
    assert.deepEqual(byUser.get("@alice:example.com"), [
      { line: 2, userId: "@alice:example.com", providerId: ulidTextToUuid(KC), subject: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6" },
      { line: 5, userId: "@alice:example.com", providerId: ulidTextToUuid(GH), subject: "12345" },
    ]);
    assert.deepEqual(byUser.get("@bob:example.com"), [
      { line: 4, userId: "@bob:example.com", providerId: ulidTextToUuid(GH), subject: 'a,b "quoted" subject' },
    ]);
  });

  it("reads Windows line ends, with the same line numbers", () => {
    const text = (HEADER + `@a:example.com,${KC},s1\n\n@b:example.com,${KC},s2\n`).replace(/\n/g, "\r\n");
    const { byUser } = parseLinkFile("f.csv", text);
    assert.deepEqual(
      [...byUser.values()].flat().map((r) => [r.line, r.subject]),
      [
        [2, "s1"],
        [4, "s2"],
      ],
    );
  });

  it("takes a byte-order mark and a header-only file (no links)", () => {
    assert.equal(parseLinkFile("f.csv", "\ufeff" + HEADER).byUser.size, 0);
  });

  const bad: [string, string, string[]][] = [
    ["no header", `@alice:example.com,${KC},s\n`, ["f.csv line 1", "header must be user_id,provider,subject"]],
    ["another header", "user,provider,subject\n", ["line 1", "header"]],
    ["an empty file", "", ["line 1", "header"]],
    ["a missing column", HEADER + `@alice:example.com,${KC}\n`, ["line 2", "2 columns instead of 3"]],
    ["an extra column", HEADER + `@alice:example.com,${KC},s,x\n`, ["line 2", "4 columns instead of 3"]],
    ["a malformed user id", HEADER + `alice,${KC},s\n`, ["line 2", '"alice" is not a user id']],
    ["a bad ULID", HEADER + `@a:example.com,${KC},s\n@b:example.com,not-a-ulid,s\n`, ["line 3", '"not-a-ulid" is not']],
    ["an empty subject", HEADER + `@alice:example.com,${KC},\n`, ["line 2", "subject is empty"]],
    [
      "a provider and subject given twice",
      HEADER + `@alice:example.com,${KC},s\n@bob:example.com,${KC},s\n`,
      ["line 3", "same provider and subject as line 2"],
    ],
    ["an unclosed quote", HEADER + `@alice:example.com,${KC},"s\n`, ["f.csv", "not valid CSV"]],
  ];
  for (const [name, text, parts] of bad) {
    it(`refuses ${name}, in one line naming the file and where`, () => {
      assertUserError(() => parseLinkFile("f.csv", text), ["--link-file f.csv", ...parts]);
    });
  }

  it("reads a file, and says when it cannot", () => {
    const dir = scratchDir("link-file");
    const file = path.join(dir, "links.csv");
    writeFileSync(file, HEADER + `@alice:example.com,${KC},kc-1\n`);
    assert.equal(readLinkFile(file).byUser.get("@alice:example.com")?.[0]?.subject, "kc-1");
    assertUserError(() => readLinkFile(path.join(dir, "absent.csv")), ["absent.csv", "cannot read it (ENOENT)"]);
  });
});
