import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inCheckOrder } from "./check.ts";

describe("the order check prints its skip counts in", () => {
  it("puts entities in report order, and reasons by count, largest first, ties by name", () => {
    const ordered = inCheckOrder({
      refresh_tokens: { no_access_token: 2, ended_session: 3 },
      passwords: { unusable_password_hash: 2, no_password_hash: 11, malformed_user_id: 1, foreign_user_id: 1 },
      users: { appservice_user: 3 },
      emails: { orphan_row: 1 },
    });
    assert.deepEqual(Object.keys(ordered), ["users", "passwords", "emails", "refresh_tokens"]);
    assert.deepEqual(Object.entries(ordered.passwords ?? {}), [
      ["no_password_hash", 11],
      ["unusable_password_hash", 2],
      ["foreign_user_id", 1],
      ["malformed_user_id", 1],
    ]);
    assert.deepEqual(Object.entries(ordered.refresh_tokens ?? {}), [
      ["ended_session", 3],
      ["no_access_token", 2],
    ]);
  });

  it("leaves nothing out and adds nothing", () => {
    assert.deepEqual(inCheckOrder({}), {});
    assert.deepEqual(Object.keys(inCheckOrder({ devices: { hidden_device: 1 } })), ["devices"]);
  });
});
