import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encodeCopyRow, encodeCopyValue, escapeCopyText, formatTimestamp } from "./copy-encode.ts";
import { columnsFor } from "./tables.ts";

describe("COPY text encoding", () => {
  const cases: {
    name: string;
    kind: Parameters<typeof encodeCopyValue>[0];
    value: string | number | boolean | null;
    expect: string;
  }[] = [
    { name: "NULL", kind: "text", value: null, expect: "\\N" },
    { name: "plain text", kind: "text", value: "Renamed FSMJREQZXQ ✓", expect: "Renamed FSMJREQZXQ ✓" },
    { name: "tab, newline, CR and backslash", kind: "text", value: "a\tb\nc\rd\\e", expect: "a\\tb\\nc\\rd\\\\e" },
    { name: "a literal \\N stays text", kind: "text", value: "\\N", expect: "\\\\N" },
    { name: "true", kind: "bool", value: true, expect: "t" },
    { name: "false", kind: "bool", value: false, expect: "f" },
    { name: "milliseconds to UTC", kind: "timestamptz", value: 1795406856636, expect: "2026-11-23T04:07:36.636Z" },
    { name: "int", kind: "int", value: 1, expect: "1" },
    { name: "inet", kind: "inet", value: "::ffff:127.0.0.1", expect: "::ffff:127.0.0.1" },
  ];
  for (const c of cases) it(c.name, () => assert.equal(encodeCopyValue(c.kind, c.value), c.expect));

  it("formats timestamps exactly as toISOString does", () => {
    const samples = [0, 1, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000, 1_795_406_856_636, 253_402_300_799_999];
    for (let i = 0; i < 20_000; i++) samples.push(Math.floor(Math.random() * 4_102_444_800_000));
    for (const ms of samples) assert.equal(formatTimestamp(ms), new Date(ms).toISOString(), String(ms));
    assert.equal(formatTimestamp(-1), new Date(-1).toISOString());
    assert.equal(formatTimestamp(1.5), new Date(1.5).toISOString());
  });

  it("leaves text without special characters as it is", () => {
    const text = "syt_dXNlcjAwMDE_VfQAVoMVUizRAxBKRTeT_1lk57f";
    assert.equal(escapeCopyText(text), text);
  });

  it("writes user_emails with confirmed_at only where the target has it", () => {
    const row = { userEmailId: "e", userId: "u", email: "a@b", createdAt: 0, confirmedAt: 0 } as never;
    assert.equal(encodeCopyRow(columnsFor("user_emails", new Set()), row), "e\tu\ta@b\t1970-01-01T00:00:00.000Z\n");
    assert.equal(
      encodeCopyRow(columnsFor("user_emails", new Set(["user_emails.confirmed_at"])), row),
      "e\tu\ta@b\t1970-01-01T00:00:00.000Z\t1970-01-01T00:00:00.000Z\n",
    );
  });
});
