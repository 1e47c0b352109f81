/** Table-driven tests for decideStatus: the state and the evidence codes from what both sides hold. */
import { EMPTY, MARKS, UNCHANGED } from "../../test/harness/status-evidence.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { MigrationRecord } from "../target/migration-record.ts";
import { decideStatus, type MigrationState, type StatusEvidence } from "./status.ts";

const RECORD: MigrationRecord = {
  committedAt: new Date("2026-11-01T10:00:00Z"),
  runStartedAt: new Date("2026-11-01T09:59:00Z"),
  toolVersion: "0.1.0",
  counts: { users: 3, compat_sessions: 4 },
  synapseMarks: MARKS,
};
const NO_ACTIVITY = { since: RECORD.committedAt, kinds: {}, total: 0 };

const MIGRATED: StatusEvidence = {
  ...EMPTY,
  record: RECORD,
  masRows: { users: 3, compat_sessions: 4 },
  usersBeforeCommit: 3,
  activity: NO_ACTIVITY,
  synapse: UNCHANGED,
};

const cases: { name: string; evidence: StatusEvidence; state: MigrationState; codes: string[] }[] = [
  { name: "an empty MAS", evidence: EMPTY, state: "not_migrated", codes: ["MAS_EMPTY"] },
  {
    name: "MAS without its schema",
    evidence: { ...EMPTY, masSchema: false },
    state: "not_migrated",
    codes: ["MAS_SCHEMA_MISSING"],
  },
  {
    name: "an empty MAS that Synapse already delegates to",
    evidence: { ...EMPTY, delegation: "matrix_authentication_service" },
    state: "not_migrated",
    codes: ["MAS_EMPTY", "DELEGATION"],
  },
  {
    name: "users and no record",
    evidence: { ...EMPTY, masRows: { users: 2 }, masUsernames: ["alice", "bob"] },
    state: "foreign",
    codes: ["MAS_FOREIGN_USERS"],
  },
  {
    name: "a user-less upstream link and no record",
    evidence: { ...EMPTY, masRows: { upstream_oauth_links: 1 } },
    state: "foreign",
    codes: ["MAS_FOREIGN_USERS"],
  },
  {
    name: "a migration, nothing since",
    evidence: MIGRATED,
    state: "migrated",
    codes: ["MIGRATION_RECORD", "NO_DELEGATION", "MAS_ACTIVITY"],
  },
  {
    name: "a migration whose cut-over left foreign keys unchecked",
    evidence: { ...MIGRATED, uncheckedForeignKeys: ["oauth2_sessions.oauth2_sessions_user_id_fkey"] },
    state: "migrated",
    codes: ["MIGRATION_RECORD", "UNCHECKED_FOREIGN_KEYS", "NO_DELEGATION", "MAS_ACTIVITY"],
  },
  {
    name: "more users dated before the commit than migrated",
    evidence: { ...MIGRATED, usersBeforeCommit: 4 },
    state: "foreign",
    codes: ["MIGRATION_RECORD", "MAS_FOREIGN_USERS"],
  },
  {
    name: "foreign users come first, even when delegating",
    evidence: { ...MIGRATED, usersBeforeCommit: 5, delegation: "experimental_features.msc3861" },
    state: "foreign",
    codes: ["MIGRATION_RECORD", "MAS_FOREIGN_USERS"],
  },
  {
    name: "fewer users than migrated (some deleted since) is not foreign",
    evidence: { ...MIGRATED, usersBeforeCommit: 2 },
    state: "migrated",
    codes: ["MIGRATION_RECORD", "NO_DELEGATION", "MAS_ACTIVITY"],
  },
  {
    name: "delegating, with activity",
    evidence: {
      ...MIGRATED,
      delegation: "matrix_authentication_service",
      activity: {
        since: RECORD.committedAt,
        kinds: { browser_sessions: { count: 2, examples: ["alice"] }, users_created: { count: 1, examples: ["carol"] } },
        total: 3,
      },
    },
    state: "delegated",
    codes: ["MIGRATION_RECORD", "DELEGATION", "MAS_ACTIVITY", "MAS_ACTIVITY"],
  },
  {
    name: "delegating after Synapse issued tokens of its own",
    evidence: {
      ...MIGRATED,
      delegation: "matrix_authentication_service",
      synapse: { ...UNCHANGED, newAccessTokens: { count: 2, examples: ["@alice:example.com"] } },
    },
    state: "delegated",
    codes: ["MIGRATION_RECORD", "DELEGATION", "MAS_ACTIVITY", "SYNAPSE_NEW_TOKENS"],
  },
  {
    name: "delegating, Synapse's users and devices provisioned by MAS are not listed",
    evidence: {
      ...MIGRATED,
      delegation: "matrix_authentication_service",
      synapse: { ...UNCHANGED, newUsers: { count: 1, examples: ["@new:example.com"] }, newDevices: 2 },
    },
    state: "delegated",
    codes: ["MIGRATION_RECORD", "DELEGATION", "MAS_ACTIVITY"],
  },
  {
    name: "an empty MAS while a migration is writing to it",
    evidence: { ...EMPTY, migrationRunning: true },
    state: "not_migrated",
    codes: ["MAS_EMPTY", "MIGRATION_RUNNING"],
  },
  {
    name: "not delegating, a new Synapse user",
    evidence: { ...MIGRATED, synapse: { ...UNCHANGED, newUsers: { count: 1, examples: ["@late:example.com"] } } },
    state: "diverged",
    codes: ["MIGRATION_RECORD", "NO_DELEGATION", "SYNAPSE_NEW_USERS", "MAS_ACTIVITY"],
  },
  {
    name: "not delegating, a new Synapse device only",
    evidence: { ...MIGRATED, synapse: { ...UNCHANGED, newDevices: 1 } },
    state: "diverged",
    codes: ["MIGRATION_RECORD", "NO_DELEGATION", "SYNAPSE_NEW_DEVICES", "MAS_ACTIVITY"],
  },
  {
    name: "not delegating, a refreshed Synapse token only",
    evidence: { ...MIGRATED, synapse: { ...UNCHANGED, newRefreshTokens: 1 } },
    state: "diverged",
    codes: ["MIGRATION_RECORD", "NO_DELEGATION", "SYNAPSE_NEW_REFRESH_TOKENS", "MAS_ACTIVITY"],
  },
  {
    name: "not delegating, Synapse served requests but gained nothing",
    evidence: {
      ...MIGRATED,
      synapse: { ...UNCHANGED, devicesSeen: { count: 1, examples: ["@alice:example.com D1"] }, tokensValidated: 2 },
    },
    state: "migrated",
    codes: ["MIGRATION_RECORD", "NO_DELEGATION", "SYNAPSE_SERVED", "SYNAPSE_SERVED", "MAS_ACTIVITY"],
  },
  {
    name: "a record of an older version (no marks)",
    evidence: {
      ...MIGRATED,
      record: { ...RECORD, synapseMarks: null },
      synapse: { ...UNCHANGED, newDevices: null, newAccessTokens: null, newRefreshTokens: null },
    },
    state: "migrated",
    codes: ["MIGRATION_RECORD", "NO_DELEGATION", "NO_SYNAPSE_MARKS", "MAS_ACTIVITY"],
  },
];

describe("decideStatus", () => {
  for (const c of cases) {
    it(`${c.name}: ${c.state}`, () => {
      const decision = decideStatus(c.evidence);
      assert.equal(decision.state, c.state);
      assert.deepEqual(
        decision.evidence.map((e) => e.code),
        c.codes,
      );
      assert.ok(decision.next.length > 0);
    });
  }

  it("names MAS's users in full and counts the foreign ones", () => {
    const foreign = decideStatus({ ...EMPTY, masRows: { users: 2 }, masUsernames: ["alice", "bob"] }).evidence[0];
    assert.deepEqual(foreign?.examples, ["@alice:example.com", "@bob:example.com"]);
    assert.equal(foreign?.count, 2);
    const backdated = decideStatus({ ...MIGRATED, usersBeforeCommit: 5 }).evidence[1];
    assert.equal(backdated?.count, 2);
    assert.match(backdated?.message ?? "", /holds 5 users dated before the migration's commit, but the migration wrote 3/);
  });

  it("names the foreign keys a cut-over left unchecked, and says to rerun migrate first", () => {
    const keys = ["oauth2_sessions.oauth2_sessions_user_id_fkey", "user_passwords.user_passwords_upgraded_from_id_fkey"];
    const decision = decideStatus({ ...MIGRATED, delegation: "matrix_authentication_service", uncheckedForeignKeys: keys });
    assert.equal(decision.state, "delegated");
    const unchecked = decision.evidence.find((e) => e.code === "UNCHECKED_FOREIGN_KEYS");
    assert.equal(unchecked?.count, 2);
    assert.deepEqual(unchecked?.examples, keys);
    assert.match(
      decision.next,
      /^First run syn2mas migrate again: it checks the foreign keys the cut-over left unchecked\. Nothing:/,
    );
    assert.doesNotMatch(decideStatus(MIGRATED).next, /First run/);
  });

  it("names the delegation key and the activity's users in full", () => {
    const decision = decideStatus({
      ...MIGRATED,
      delegation: "experimental_features.msc3861",
      activity: { since: RECORD.committedAt, kinds: { browser_sessions: { count: 2, examples: ["alice"] } }, total: 2 },
    });
    assert.match(decision.evidence[1]?.message ?? "", /experimental_features\.msc3861\.enabled: true/);
    assert.deepEqual(decision.evidence[2], {
      code: "MAS_ACTIVITY",
      message: "MAS activity since the migration: browser_sessions 2 (e.g. @alice:example.com).",
      count: 2,
      examples: ["@alice:example.com"],
    });
  });
});
