import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { validationLanes } from "./migrate.ts";
import type { ForeignKey } from "../target/constraints.ts";

const key = (table: string, name: string): ForeignKey => ({ table, name, drop: "", addNotValid: "" }) as ForeignKey;
const names = (lanes: ForeignKey[][]) => lanes.map((lane) => lane.map((k) => k.name));

describe("validationLanes: the cut-over's foreign keys on two connections", () => {
  const keys = [
    key("compat_access_tokens", "cat_session"),
    key("compat_refresh_tokens", "crt_session"),
    key("compat_refresh_tokens", "crt_access"),
    key("compat_sessions", "cs_user"),
    key("user_emails", "ue_user"),
  ];
  const rows = {
    compat_access_tokens: 2_400_000,
    compat_refresh_tokens: 470_000,
    compat_sessions: 1_900_000,
    user_emails: 700_000,
  };

  const cases: { what: string; lanes: number; expected: string[][] }[] = [
    {
      what: "largest first, each table whole, to the lighter lane",
      lanes: 2,
      // 2.4M | 1.9M, then crt (2 keys: 0.94M) -> 1.9M lane, then emails 0.7M -> 2.4M lane
      expected: [
        ["cat_session", "ue_user"],
        ["cs_user", "crt_session", "crt_access"],
      ],
    },
    {
      what: "one lane keeps every key",
      lanes: 1,
      expected: [["cat_session", "cs_user", "crt_session", "crt_access", "ue_user"]],
    },
  ];
  for (const c of cases) {
    it(c.what, () => assert.deepEqual(names(validationLanes(keys, rows, c.lanes)), c.expected));
  }

  it("no empty lane, and a table's keys never split", () => {
    assert.deepEqual(names(validationLanes([key("users", "a"), key("users", "b")], {}, 2)), [["a", "b"]]);
    assert.deepEqual(validationLanes([], rows, 2), []);
  });
});
