import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { creationTimeMs, expiryTime, isMasTime, knownTime, MAX_MAS_TIME_MS, MAX_MAS_TIME_S } from "./time.ts";

/** int64's largest value as the readers decode it (a JS number, rounded up to 2^63). */
const INT64_MAX = Number("9223372036854775807");

describe("times MAS can hold", () => {
  it("the latest is the last millisecond of the year 9999, which ISO 8601 writes with four digits", () => {
    assert.equal(new Date(MAX_MAS_TIME_MS).toISOString(), "9999-12-31T23:59:59.999Z");
    assert.equal(new Date(MAX_MAS_TIME_MS + 1).toISOString(), "+010000-01-01T00:00:00.000Z");
    assert.ok(MAX_MAS_TIME_MS < 2 ** 48, "it fits a ULID's time part");
    assert.equal(MAX_MAS_TIME_S, 253_402_300_799);
  });

  const cases: [number, boolean][] = [
    [0, true],
    [1_700_000_000_000, true],
    [MAX_MAS_TIME_MS, true],
    [MAX_MAS_TIME_MS + 1, false],
    [-1, false],
    [INT64_MAX, false],
    [-INT64_MAX, false],
  ];
  for (const [ms, ok] of cases) {
    it(`${ms} is ${ok ? "" : "not "}a MAS time; knownTime gives ${ok ? "it" : "null"}`, () => {
      assert.equal(isMasTime(ms), ok);
      assert.equal(knownTime(ms), ok ? ms : null);
    });
  }
  it("knownTime keeps NULL unknown", () => assert.equal(knownTime(null), null));
});

describe("creationTimeMs (users.creation_ts, in seconds)", () => {
  const cases: [string, number | null, number | null][] = [
    ["NULL is unknown", null, null],
    ["seconds become milliseconds", 1_600_000_000, 1_600_000_000_000],
    ["0 is 1970", 0, 0],
    ["the last second of 9999 is kept", MAX_MAS_TIME_S, MAX_MAS_TIME_S * 1000],
    ["a value written in milliseconds is taken as such", 1_700_000_000_000, 1_700_000_000_000],
    ["just past the last second, it reads as milliseconds", MAX_MAS_TIME_S + 1, MAX_MAS_TIME_S + 1],
    ["a value valid as neither is unknown", MAX_MAS_TIME_MS + 1, null],
    ["the int64 limit is unknown", INT64_MAX, null],
    ["a negative value is unknown", -5, null],
  ];
  for (const [name, input, expected] of cases) it(name, () => assert.equal(creationTimeMs(input), expected));
});

describe("expiryTime (access_tokens.valid_until_ms)", () => {
  const cases: [string, number | null, number | null][] = [
    ["NULL is no expiry", null, null],
    ["a time in range is kept", 1_795_500_000_000, 1_795_500_000_000],
    ["the last millisecond of 9999 is kept", MAX_MAS_TIME_MS, MAX_MAS_TIME_MS],
    ["beyond the year 9999 is no expiry", MAX_MAS_TIME_MS + 1, null],
    ["the int64 limit is no expiry", INT64_MAX, null],
    ["a negative time stays expired, at 1970", -1, 0],
    ["0 stays expired", 0, 0],
  ];
  for (const [name, input, expected] of cases) it(name, () => assert.equal(expiryTime(input), expected));
});
