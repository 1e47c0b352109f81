/** Tests for the progress text: no "0 rows/s" before anything is measured, no "ETA LLs" for an empty phase. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatEta, speedText } from "./progress.ts";

describe("speedText", () => {
  const cases: { name: string; rows: number; total: number | undefined; seconds: number; expect: string }[] = [
    { name: "an empty phase", rows: 0, total: 0, seconds: 0, expect: "nothing to copy" },
    { name: "an empty phase, later", rows: 0, total: 0, seconds: 3, expect: "nothing to copy" },
    { name: "just started", rows: 0, total: 1000, seconds: 0, expect: "starting" },
    { name: "rows, but under a second", rows: 500, total: 1000, seconds: 0.4, expect: "starting" },
    { name: "no row after 2 s", rows: 0, total: 1000, seconds: 2, expect: "starting" },
    { name: "halfway", rows: 500, total: 1000, seconds: 2, expect: "250 rows/s, ETA 2 s" },
    { name: "large numbers", rows: 2_500_000, total: 10_000_000, seconds: 100, expect: "25,000 rows/s, ETA 5 min 00 s" },
    { name: "unknown total", rows: 3000, total: undefined, seconds: 1.5, expect: "2,000 rows/s" },
    { name: "all done", rows: 1000, total: 1000, seconds: 4, expect: "250 rows/s" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const text = speedText(c.rows, c.total, c.seconds);
      assert.equal(text, c.expect);
      assert.doesNotMatch(text, /LL|NULL|INF|NaN|Infinity|^0 rows\/s/);
    });
  }
});

describe("formatEta", () => {
  const cases: [number, string][] = [
    [0, "0 s"],
    [0.2, "1 s"],
    [59, "59 s"],
    [60, "1 min 00 s"],
    [125, "2 min 05 s"],
    [3600, "1 h 00 min"],
    [7620, "2 h 07 min"],
  ];
  for (const [seconds, expect] of cases) {
    it(`${seconds} s`, () => assert.equal(formatEta(seconds), expect));
  }
});
