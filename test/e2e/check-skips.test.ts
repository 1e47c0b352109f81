/** `check` counts, with migrate's own mappers, exactly what `migrate` skips, with the same reasons: compared on the fixture and on edge rows. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EDGE_ROWS_SQL } from "../harness/edge-rows.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { prepareScenario, runCli, type CliResult, type Scenario } from "../harness/scenario.ts";

/** The fixture ran with guest access on (an error); every scenario here turns it off. */
const NO_GUESTS = { synapseOverrides: { allow_guest_access: false } };

/**
 * More rows, one or more per skip reason and per place a reason can come from (a device, a token
 * on no device, an unpaired refresh token). The comment on each says what migrate does with it.
 */
const MORE_ROWS_SQL = `
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated) VALUES
  ('@nohash:example.com', NULL, 1700000000, 0, 0, 0),          -- migrated; passwords: no_password_hash
  ('@emptyhash:example.com', '', 1700000001, 0, 0, 0),         -- migrated; passwords: no_password_hash
  ('@eve:evil.example', '$2b$12$notarealhashnotarealhashnotarealhashnotarealhashnot', 1700000002, 0, 0, 0), -- foreign, with its hash
  ('badname', '$2b$12$notarealhashnotarealhashnotarealhashnotarealhashnox', 1700000003, 0, 0, 0),          -- malformed, with its hash
  ('@:example.com', NULL, 1700000004, 0, 0, 0);                -- malformed (empty localpart), no hash
-- An empty appservice_id is no application service: migrated, with its hash.
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, appservice_id) VALUES
  ('@emptyappservice:example.com', '$2b$12$notarealhashnotarealhashnotarealhashnotarealhashnoyyy', 1700000005, 0, 0, 0, '');
-- Hashes MAS cannot verify: migrated without a password (unusable_password_hash).
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated) VALUES
  ('@xhash:example.com', 'x', 1700000006, 0, 0, 0),
  ('@argon:example.com', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', 1700000007, 0, 0, 0);
INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES
  ('@eve:evil.example', 'email', 'eve@evil.example', 1700000000000, 1700000000000),         -- emails: foreign
  ('@user0003:example.com', 'msisdn', '447910000003', 1700000000000, 1700000000000),       -- unsupported: deactivated
  ('@user0003:example.com', 'email', 'deactivated3@example.com', 1700000000000, 1700000000000), -- kept: emails of deactivated users are
  ('@ghost:example.com', 'msisdn', '447910000099', 1700000000000, 1700000000000),          -- unsupported: orphan
  ('@bridge_1:example.com', 'email', 'bridge1@example.com', 1700000000000, 1700000000000), -- emails: appservice
  ('@trailing:', 'email', 'trailing@example.com', 1700000000000, 1700000000000);            -- emails: malformed (empty server)
INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES
  ('oidc-keycloak', 'kc-nocolon', 'nocolon'),              -- malformed
  ('oidc-keycloak', 'kc-ghost', '@ghost:example.com'),     -- orphan
  ('oidc-github', 'gh-bridge', '@bridge_2:example.com'),   -- appservice
  ('oidc-keycloak', 'kc-eve', '@eve:evil.example');        -- foreign, although eve has a users row
INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden) VALUES
  ('@ghost:example.com', 'GHOSTDEV', NULL, NULL, NULL, NULL, false),     -- orphan, with a token and its refresh token
  ('@user0004:example.com', 'DEACTDEV', NULL, NULL, NULL, NULL, false),  -- deactivated, with a token
  ('@eve:evil.example', 'EVEDEV', NULL, NULL, NULL, NULL, true),         -- foreign (before hidden), with a token
  ('@user0025:example.com', 'PUPDEV', NULL, 1795406000000, NULL, NULL, false); -- kept, with a puppet and a kept token
INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id) VALUES
  (2020, '@ghost:example.com', 'GHOSTDEV', 'syr_ghost', NULL),
  (2021, '@admin:example.com', 'X', 'syr_puppet', NULL),
  (2023, '@user0023:example.com', 'X', 'syr_next_used', NULL),
  (2022, '@user0023:example.com', 'X', 'syr_superseded_loose', 2023),
  (2024, '@user0010:example.com', 'master signing key', 'syr_hidden', NULL),
  (2025, '@user0025:example.com', 'GONE', 'syr_missing_device', NULL),
  (2026, '@ghost:example.com', 'X', 'syr_unpaired_orphan', NULL),
  (2027, '@:example.com', 'X', 'syr_unpaired_malformed', NULL),
  (2028, '@eve:evil.example', 'X', 'syr_unpaired_foreign', NULL),
  (2029, '@bridge_1:example.com', 'X', 'syr_unpaired_appservice', NULL),
  (2030, '@user0026:example.com', 'X', 'syr_unpaired', NULL),
  (2031, '@user0005:example.com', 'X', 'syr_puppet_deactivated', NULL);
INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
  (2001, '@ghost:example.com', 'GHOSTDEV', 'syt_ghost', NULL, NULL, 1795406000010, 2020, false),            -- orphan (device), both
  (2002, '@user0004:example.com', 'DEACTDEV', 'syt_deactivated_device', NULL, NULL, 1795406000011, NULL, false), -- deactivated (device)
  (2003, '@eve:evil.example', 'EVEDEV', 'syt_eve', NULL, NULL, 1795406000012, NULL, false),                 -- foreign (device)
  (2004, '@1:example.com', 'guest_device', 'syt_guest_device', NULL, NULL, 1795406000013, NULL, false),     -- guest (device)
  (2005, '@2:example.com', NULL, 'syt_guest_deviceless', NULL, NULL, 1795406000014, NULL, false),           -- guest (no device)
  (2006, '@admin:example.com', NULL, 'syt_puppet_refresh', NULL, '@user0013:example.com', 1795406000015, 2021, false), -- puppet, both
  (2007, '@user0005:example.com', NULL, 'syt_deactivated_deviceless', NULL, NULL, 1795406000016, NULL, false), -- deactivated (no device)
  (2008, '@ghost2:example.com', 'NODEV', 'syt_ghost2', NULL, NULL, 1795406000017, NULL, false),             -- orphan before missing_device
  (2009, '@user0023:example.com', NULL, 'syt_superseded_loose', NULL, NULL, 1795406000018, 2022, false),     -- superseded (no device), both
  (2010, '@user0023:example.com', NULL, 'syt_next_used', NULL, NULL, 1795406000019, 2023, true),            -- kept, own session
  (2011, '@user0025:example.com', 'PUPDEV', 'syt_puppet_on_device', NULL, '@user0014:example.com', 1795406000020, NULL, false), -- puppet (device)
  (2012, '@user0025:example.com', 'PUPDEV', 'syt_kept_on_pupdev', NULL, NULL, 1795406000021, NULL, false),  -- kept
  (2013, '@user0005:example.com', NULL, 'syt_puppet_deactivated', NULL, '@user0014:example.com', 1795406000022, 2031, false), -- puppet before deactivated
  (2014, '@user0010:example.com', 'master signing key', 'syt_hidden_refresh', NULL, NULL, 1795406000023, 2024, false), -- hidden, both
  (2015, '@user0025:example.com', 'GONE', 'syt_missing_device_refresh', NULL, NULL, 1795406000024, 2025, false), -- missing_device, both
  (2016, '@user0004:example.com', 'DEACTDEV', 'syt_puppet_on_deactivated_device', NULL, '@user0014:example.com', 1795406000025, NULL, false); -- the device's reason first
`;

/**
 * The fixture's refresh tokens made live (they ended a day after it was made), then ended refresh
 * pairs in each place a reason can come from, an hour before `now`.
 */
function endedRowsSql(now: number): string {
  const ended = now - 3_600_000;
  return `
UPDATE refresh_tokens SET expiry_ts = ${now + 24 * 3_600_000};
INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id, expiry_ts, ultimate_session_expiry_ts) VALUES
  (3001, '@user0025:example.com', 'PUPDEV', 'syr_ended_on_device', NULL, ${ended}, NULL),
  (3002, '@admin:example.com', 'X', 'syr_ended_puppet', NULL, ${ended}, NULL),
  (3003, '@user0010:example.com', 'master signing key', 'syr_ended_hidden', NULL, NULL, ${ended}),
  (3004, '@user0025:example.com', 'GONE', 'syr_ended_missing_device', NULL, ${ended}, NULL),
  (3005, '@user0004:example.com', 'DEACTDEV', 'syr_ended_deactivated_device', NULL, ${ended}, NULL),
  (3006, '@user0005:example.com', 'X', 'syr_ended_deactivated_deviceless', NULL, NULL, ${ended}),
  (3007, '@ghost:example.com', 'X', 'syr_ended_orphan', NULL, ${ended}, NULL);
INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
  (3001, '@user0025:example.com', 'PUPDEV', 'syt_ended_on_device', NULL, NULL, 1795406000030, 3001, false),     -- ended (kept device)
  (3002, '@admin:example.com', NULL, 'syt_ended_puppet', NULL, '@user0013:example.com', 1795406000031, 3002, false), -- puppet first
  (3003, '@user0010:example.com', 'master signing key', 'syt_ended_hidden', NULL, NULL, 1795406000032, 3003, false), -- the device's reason
  (3004, '@user0025:example.com', 'GONE', 'syt_ended_missing_device', NULL, NULL, 1795406000033, 3004, false),  -- ended before missing_device
  (3005, '@user0004:example.com', 'DEACTDEV', 'syt_ended_deactivated_device', NULL, NULL, 1795406000034, 3005, false), -- the device's reason
  (3006, '@user0005:example.com', NULL, 'syt_ended_deactivated_deviceless', NULL, NULL, 1795406000035, 3006, false), -- ended before deactivated
  (3007, '@ghost:example.com', NULL, 'syt_ended_orphan', NULL, NULL, 1795406000036, 3007, false);             -- orphan first
`;
}

/** Unmapped providers: PROVIDER_NOT_IN_MAS blocks migrate, so only check can count them. */
const UNMAPPED_PROVIDER_SQL = `
INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES
  ('oidc-unknown', 'unknown-1', '@user0030:example.com'),   -- unmapped
  ('oidc-unknown', 'unknown-2', '@user0031:example.com'),   -- unmapped
  ('oidc-unknown', 'unknown-3', '@user0003:example.com'),   -- unmapped (deactivated users keep their links)
  ('oidc-unknown', 'unknown-4', '@bridge_3:example.com'),   -- appservice_user comes first
  ('oidc-unknown', 'unknown-5', '@ghost:example.com');      -- orphan_row comes first
`;

type Skipped = Record<string, Record<string, number>>;

interface CheckJson {
  command: string;
  exitCode: number;
  findings: { code: string; severity: string; count?: number }[];
  wouldSkip: Skipped | null;
}

interface MigrateJson {
  status: string;
  report: { dryRun: boolean; skipped: Skipped } | null;
}

function checkJson(result: CliResult): CheckJson {
  const json = JSON.parse(result.stdout) as CheckJson;
  assert.ok("wouldSkip" in json, "check --json has no wouldSkip: is dist/ stale? Run npm run build first.");
  return json;
}

function migrateReport(result: CliResult): { dryRun: boolean; skipped: Skipped } {
  assert.equal(result.code, 0, result.stderr);
  const json = JSON.parse(result.stdout) as MigrateJson;
  assert.equal(json.status, "done");
  assert.ok(json.report);
  return json.report;
}

describe("check counts what migrate would skip", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => cluster?.stop());

  it("on the unedited fixture, check's counts are migrate --dry-run's report", async () => {
    const s = await prepareScenario(cluster, "skips_baseline", NO_GUESTS);
    const check = await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]);
    const migrate = await runCli(["migrate", ...s.configArgs, "--dry-run", "--json", "--accept-all-warnings"]);
    const report = migrateReport(migrate);
    assert.equal(report.dryRun, true);
    const { wouldSkip } = checkJson(check);
    assert.deepEqual(wouldSkip, report.skipped);
    assert.deepEqual(wouldSkip?.users, { appservice_user: 3 });
    assert.deepEqual(wouldSkip?.devices, { guest_user: 2, appservice_user: 3 });
    // The fixture's refresh tokens were made with a 24-hour lifetime: every pair has ended.
    assert.deepEqual(wouldSkip?.access_tokens, { appservice_user: 3, puppet_token: 2, ended_session: 31 });
    assert.deepEqual(wouldSkip?.refresh_tokens, { ended_session: 31 });
  });

  describe("with edge rows for every reason", () => {
    let s: Scenario;
    let check: CliResult;
    let wouldSkip: Skipped;
    let skipped: Skipped;

    before(async () => {
      s = await prepareScenario(cluster, "skips_edges", NO_GUESTS);
      await cluster.sql(s.synapseDb, EDGE_ROWS_SQL);
      await cluster.sql(s.synapseDb, MORE_ROWS_SQL);
      await cluster.sql(s.synapseDb, endedRowsSql(Date.now()));
      check = await runCli(["check", ...s.configArgs, "--json", "--skip-invalid-rows", "--accept-all-warnings"]);
      const migrate = await runCli([
        "migrate",
        ...s.configArgs,
        "--dry-run",
        "--json",
        "--skip-invalid-rows",
        "--accept-all-warnings",
      ]);
      skipped = migrateReport(migrate).skipped;
      const json = checkJson(check);
      assert.ok(json.wouldSkip, check.stderr);
      wouldSkip = json.wouldSkip;
    });

    it("has the same entities, reasons and counts as migrate --dry-run --skip-invalid-rows", () => {
      assert.deepEqual(wouldSkip, skipped);
    });

    it("counts users and passwords by owner first, then by hash", () => {
      assert.deepEqual(wouldSkip.users, { appservice_user: 3, foreign_user_id: 1, malformed_user_id: 2 });
      // Appservice users' hashes are empty: they are not counted as passwords at all.
      assert.deepEqual(wouldSkip.passwords, {
        no_password_hash: 9 + 2,
        foreign_user_id: 1,
        malformed_user_id: 1,
        unusable_password_hash: 2,
      });
    });

    it("counts threepids and external ids by owner, and drops only non-email ids of deactivated users", () => {
      assert.deepEqual(wouldSkip.emails, { foreign_user_id: 1, appservice_user: 1, malformed_user_id: 1 });
      assert.deepEqual(wouldSkip.unsupported_threepids, { deactivated_user: 1, orphan_row: 1 });
      assert.deepEqual(wouldSkip.external_ids, {
        malformed_user_id: 1,
        orphan_row: 1,
        appservice_user: 1,
        foreign_user_id: 1,
      });
    });

    it("counts devices, and their tokens with the device's reason", () => {
      assert.deepEqual(wouldSkip.devices, {
        guest_user: 2,
        appservice_user: 3,
        hidden_device: 1,
        orphan_row: 1,
        deactivated_user: 1,
        foreign_user_id: 1,
      });
      assert.deepEqual(wouldSkip.access_tokens, {
        appservice_user: 3,
        hidden_device: 1 + 1 + 1,
        superseded_refresh_pair: 1 + 1,
        puppet_token: 2 + 3 + 1,
        missing_device: 1 + 1,
        orphan_row: 1 + 1 + 1,
        deactivated_user: 2 + 1 + 1,
        foreign_user_id: 1,
        guest_user: 1 + 1,
        ended_session: 3,
      });
      assert.deepEqual(wouldSkip.refresh_tokens, {
        superseded_refresh_pair: 1 + 1,
        no_access_token: 1 + 1,
        orphan_row: 1 + 1 + 1,
        malformed_user_id: 1,
        foreign_user_id: 1,
        appservice_user: 1,
        puppet_token: 2 + 1,
        hidden_device: 1 + 1,
        missing_device: 1,
        deactivated_user: 1,
        ended_session: 3,
      });
    });

    it("ENDED_SESSIONS counts exactly the pairs skipped as ended_session", () => {
      const ended = checkJson(check).findings.find((f) => f.code === "ENDED_SESSIONS");
      assert.equal(ended?.severity, "info");
      assert.equal(ended?.count, wouldSkip.refresh_tokens?.ended_session);
    });

    it("prints the counts on stderr in the report's layout", () => {
      assert.match(check.stderr, /Would skip \(not migrated\):/);
      assert.match(check.stderr, /\n {2}refresh_tokens {9}no_access_token {12}2\n/);
    });

    it("counts the same without --skip-invalid-rows, where those rows are errors", async () => {
      const strict = await runCli(["check", ...s.configArgs, "--json", "--accept-all-warnings"]);
      assert.equal(strict.code, 10, strict.stderr);
      const json = checkJson(strict);
      assert.ok(json.findings.some((f) => f.code === "FOREIGN_USER_IDS" && f.severity === "error"));
      assert.ok(json.findings.some((f) => f.code === "ORPHAN_ROWS" && f.severity === "error"));
      assert.deepEqual(json.wouldSkip, wouldSkip);
    });
  });

  it("counts external ids on a provider MAS does not know as unmapped_provider, after the owner rules", async () => {
    const s = await prepareScenario(cluster, "skips_unmapped", NO_GUESTS);
    await cluster.sql(s.synapseDb, UNMAPPED_PROVIDER_SQL);
    const check = await runCli(["check", ...s.configArgs, "--json", "--skip-invalid-rows", "--accept-all-warnings"]);
    const json = checkJson(check);
    assert.ok(
      json.findings.some((f) => f.code === "PROVIDER_NOT_IN_MAS"),
      check.stderr,
    );
    assert.deepEqual(json.wouldSkip?.external_ids, { unmapped_provider: 3, appservice_user: 1, orphan_row: 1 });

    // Mapped on the command line, the same rows are no longer skipped.
    const mapped = await runCli([
      "check",
      ...s.configArgs,
      "--json",
      "--skip-invalid-rows",
      "--accept-all-warnings",
      "--upstream-provider-mapping",
      "oidc-unknown:01JSHPZHAXC50QBKH67MH33TNF",
    ]);
    assert.deepEqual(checkJson(mapped).wouldSkip?.external_ids, { appservice_user: 1, orphan_row: 1 });
  });
});
