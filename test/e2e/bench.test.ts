/** The benchmark machinery on a small synthetic Synapse: the tool writes exactly the limit's rows. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpus } from "node:os";
import { limitQueries } from "../../bench/limit-sql.ts";
import { rawQueries } from "../../bench/raw-sql.ts";
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
    // The raw ingest limit ran into its own MAS and wrote exactly the limit's row count in every table.
    assert.deepEqual(result.rawLimitRows, result.limitRows);
    assert.ok(Number.isFinite(result.rawLimitSeconds) && result.rawLimitSeconds > 0);
    assert.equal(result.rawRatio, result.toolSeconds / result.rawLimitSeconds);
    assert.equal(result.rawLimitRowsPerSecond, 15320 / result.rawLimitSeconds);
    assert.ok(result.toolPeakRssMb > 20, "the peak RSS was sampled");
    // CPU time was counted: the tool's own process is part of the machine's time while it ran.
    const { cpu } = result;
    assert.equal(cpu.cores, cpus().length);
    assert.ok(cpu.limitSeconds > 0 && cpu.rawLimitSeconds > 0, "the limits' CPU time was counted");
    assert.ok(cpu.toolProcessSeconds > 0.05, "the tool's process used CPU (Node alone starting)");
    assert.ok(cpu.toolSeconds >= cpu.toolProcessSeconds - 0.05, "the machine's time includes the tool's");
    // verify ran after the migration and found every row equal (runTool throws on any other exit code).
    assert.ok(result.verifySeconds > 0 && result.verifyPeakRssMb > 20);
    // --source sqlite: the same rows read from a SQLite copy (more than a page of every table) make the same MAS rows.
    assert.ok(result.sqlite && result.sqlite.toolSeconds > 0 && result.sqlite.fileMb > 0);
    assert.deepEqual(result.sqlite.toolRows, result.limitRows);
    assert.deepEqual(result.sqlite.toolFingerprints, result.limitFingerprints);
  });
});

describe("the raw ingest limit's SQL", () => {
  const providers = { "oidc-keycloak": "0196636f-c55d-6141-75ce-263d2231eaaf" };
  const counts = { users: 7, user_passwords: 6, user_emails: 5, user_unsupported_third_party_ids: 4 };
  const full = { ...counts, upstream_oauth_links: 3, compat_sessions: 11, compat_access_tokens: 13, compat_refresh_tokens: 2 };

  it("has the limit's tables and columns, one Synapse table each, no join or filter, cut at the limit's count", () => {
    const raw = rawQueries(providers, full);
    const exact = limitQueries(providers);
    assert.deepEqual(Object.keys(raw), Object.keys(exact));
    const sources: Record<string, string> = {
      users: "users",
      user_passwords: "users",
      user_emails: "user_threepids",
      user_unsupported_third_party_ids: "user_threepids",
      upstream_oauth_links: "user_external_ids",
      compat_sessions: "devices",
      compat_access_tokens: "access_tokens",
      compat_refresh_tokens: "refresh_tokens",
    };
    for (const [table, q] of Object.entries(raw)) {
      assert.deepEqual(q.columns, exact[table]?.columns, table);
      assert.match(q.sql, new RegExp(`\\sFROM ${sources[table]}\\s+LIMIT ${full[table as keyof typeof full]}$`), table);
      assert.doesNotMatch(q.sql, /\b(JOIN|WHERE|EXISTS|bcrypt)\b|\$2/i, table);
    }
    // Foreign keys wrap to the parent's row count: sessions to 7 users, refresh tokens to 11 sessions and 13 access tokens.
    assert.match(raw.compat_sessions?.sql ?? "", /% 7 \+ 1/);
    assert.match(raw.compat_refresh_tokens?.sql ?? "", /% 11 \+ 1.*% 13 \+ 1/s);
  });

  it("refuses to run without the limit's count of every table", () => {
    const { upstream_oauth_links: _links, ...withoutLinks } = full;
    assert.throws(() => rawQueries(providers, withoutLinks), /no row count for upstream_oauth_links/);
  });
});
