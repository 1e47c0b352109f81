import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { MasRow } from "../model/mas.ts";
import { CountingSink } from "./counting-sink.ts";

/** Rows of the given tables; the counting sink reads only the table. */
const rowsOf = (...tables: MasRow["table"][]): MasRow[] => tables.map((table) => ({ table, row: {} }) as unknown as MasRow);

describe("check's counting sink", () => {
  it("counts each phase's rows per table, tables without rows at 0, and never asks the caller to wait", async () => {
    const sink = new CountingSink();
    const sessions = sink.openPhase(["compat_sessions", "compat_access_tokens", "compat_refresh_tokens"]);
    assert.equal(sessions.add(rowsOf("compat_sessions", "compat_access_tokens", "compat_access_tokens")), undefined);
    assert.equal(sessions.add(rowsOf("compat_sessions")), undefined);
    assert.deepEqual(
      await sessions.finish(),
      new Map([
        ["compat_sessions", 2],
        ["compat_access_tokens", 2],
        ["compat_refresh_tokens", 0],
      ]),
    );
    // Each phase counts on its own.
    const users = sink.openPhase(["users", "user_passwords"]);
    users.add(rowsOf("users"));
    assert.deepEqual(
      await users.finish(),
      new Map([
        ["users", 1],
        ["user_passwords", 0],
      ]),
    );
  });

  it("rejects a row for a table outside its phase, as the COPY writer does", () => {
    const phase = new CountingSink().openPhase(["users"]);
    assert.throws(() => phase.add(rowsOf("user_emails")), /phase has no sink for table user_emails/);
  });
});
