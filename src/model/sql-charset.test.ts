import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sqlOnlyCharsOf } from "./sql-charset.ts";
import { evaluateCondition, useCluster } from "../../test/harness/sql-condition.ts";

/** Alphabets (with the characters a bracket expression treats specially) and texts, with the expected answer. */
const cases: { alphabet: string; text: string | null; only: boolean | null }[] = [
  { alphabet: "abc", text: "", only: true },
  { alphabet: "abc", text: "cab", only: true },
  { alphabet: "abc", text: "abd", only: false },
  { alphabet: "abc", text: "ABC", only: false },
  { alphabet: "abc", text: "a b", only: false },
  { alphabet: "abc", text: "a\n", only: false },
  { alphabet: "abc", text: "aé", only: false },
  { alphabet: "abc", text: null, only: null },
  { alphabet: "az-", text: "a-z", only: true },
  { alphabet: "az-", text: "b", only: false },
  { alphabet: "-az", text: "b", only: false },
  { alphabet: "^a", text: "^a^", only: true },
  { alphabet: "^a", text: "b", only: false },
  { alphabet: "a]", text: "]a", only: true },
  { alphabet: "a]", text: "[", only: false },
  { alphabet: "a\\", text: "a\\", only: true },
  { alphabet: "a\\", text: "\\b", only: false },
  { alphabet: "._=/+-", text: "a", only: false },
  { alphabet: "abcdefghijklmnopqrstuvwxyz0123456789._=/+-", text: "alice.smith=1/+-_", only: true },
  { alphabet: "abcdefghijklmnopqrstuvwxyz0123456789._=/+-", text: "Alice", only: false },
];

describe("sqlOnlyCharsOf: every character of a text in an alphabet, on both engines", () => {
  const cluster = useCluster();
  const alphabets = [...new Set(cases.map((c) => c.alphabet))];
  for (const engine of ["sqlite", "postgres"] as const) {
    for (const alphabet of alphabets) {
      const own = cases.filter((c) => c.alphabet === alphabet);
      it(`${engine}: alphabet ${JSON.stringify(alphabet)}`, async () => {
        const answers = await evaluateCondition(
          engine,
          (column) => sqlOnlyCharsOf(column, alphabet, engine),
          own.map((c) => c.text),
          cluster(),
        );
        assert.deepEqual(
          own.map((c, i) => ({ text: c.text, only: answers[i] })),
          own.map((c) => ({ text: c.text, only: c.only })),
        );
      });
    }
  }

  it("refuses an alphabet with a quote", () => {
    assert.throws(() => sqlOnlyCharsOf("t", "a'", "postgres"), /quote/);
  });
});
