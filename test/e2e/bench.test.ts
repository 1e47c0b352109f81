/** The benchmark machinery on a small synthetic Synapse: the tool writes exactly the limit's rows. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bench } from "../../bench/run.ts";
import { TABLE_ORDER } from "../../src/target/tables.ts";

describe("npm run bench", () => {
  it("at 2000 users: the limit and syn2mas write the same rows, table by table, with the figures filled in", async () => {
    const result = await bench(2000, { log: () => undefined, source: "sqlite" });
    assert.deepEqual(Object.keys(result.toolRows).sort(), [...TABLE_ORDER].sort());
    assert.deepEqual(result.toolRows, result.limitRows);
    // Not only as many rows: the same values in every column but the (random) ids.
    assert.deepEqual(result.toolFingerprints, result.limitFingerprints);
    // Per 100 users: 99 MAS users (1 appservice), 96 passwords, 70 emails, 3 phones, 20 links,
    // 192 sessions (guests', deactivated and appservice devices skipped), 239 access and 47 refresh tokens
    // (1 refresh pair per 100 users has expired: not migrated).
    assert.deepEqual(result.toolRows, {
      users: 1980,
      user_passwords: 1920,
      user_emails: 1400,
      user_unsupported_third_party_ids: 60,
      upstream_oauth_links: 400,
      compat_sessions: 3840,
      compat_access_tokens: 4780,
      compat_refresh_tokens: 940,
    });
    assert.ok(result.limitSeconds > 0 && result.toolSeconds > 0);
    assert.equal(result.ratio, result.toolSeconds / result.limitSeconds);
    assert.ok(result.toolPeakRssMb > 20, "the peak RSS was sampled");
    // verify ran after the migration and found every row equal (runTool throws on any other exit code).
    assert.ok(result.verifySeconds > 0 && result.verifyPeakRssMb > 20);
    // --source sqlite: the same rows read from a SQLite copy (more than a page of every table) make the same MAS rows.
    assert.ok(result.sqlite && result.sqlite.toolSeconds > 0 && result.sqlite.fileMb > 0);
    assert.deepEqual(result.sqlite.toolRows, result.limitRows);
    assert.deepEqual(result.sqlite.toolFingerprints, result.limitFingerprints);
  });
});
