/** Table-driven tests for status with a stage: formatAge, and decideStatus's `prepared` state and its lag. */
import { EMPTY, MARKS, UNCHANGED } from "../../test/harness/status-evidence.ts";
import type { SynapseChanges } from "../source/synapse-marks.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { MigrationRecord } from "../target/migration-record.ts";
import { decideStatus, formatAge, type MigrationState, type StageEvidence, type StatusEvidence } from "./status.ts";

describe("formatAge", () => {
  const cases: [number, string][] = [
    [-5_000, "0 s"],
    [0, "0 s"],
    [999, "0 s"],
    [12_000, "12 s"],
    [60_000, "1 min"],
    [250_000, "4 min 10 s"],
    [3_600_000, "1 h"],
    [7_500_000, "2 h 5 min"],
    [86_400_000 * 3 + 3_600_000 * 4 + 59_000, "3 d 4 h"],
    [86_400_000 + 30 * 60_000, "1 d"],
  ];
  for (const [ms, text] of cases) it(`${ms} ms -> ${text}`, () => assert.equal(formatAge(ms), text));
});

const STAGE: StageEvidence = {
  createdAt: new Date("2026-11-01T10:00:00Z"),
  updatedAt: new Date("2026-11-01T12:00:00Z"),
  readAt: new Date("2026-11-01T12:05:30Z"),
  toolVersion: "0.1.0",
  counts: { users: 3, compat_sessions: 4 },
  synapse: UNCHANGED,
};
const RECORD: MigrationRecord = {
  committedAt: new Date("2026-11-02T10:00:00Z"),
  runStartedAt: new Date("2026-11-02T09:59:00Z"),
  toolVersion: "0.1.0",
  counts: { users: 3, compat_sessions: 4 },
  synapseMarks: MARKS,
};

const lagging = (changes: Partial<SynapseChanges>): StatusEvidence => ({
  ...EMPTY,
  stage: { ...STAGE, synapse: { ...UNCHANGED, ...changes } },
});

describe("decideStatus with a stage", () => {
  const cases: { name: string; evidence: StatusEvidence; state: MigrationState; codes: string[] }[] = [
    { name: "no stage: not_migrated", evidence: { ...EMPTY, stage: null }, state: "not_migrated", codes: ["MAS_EMPTY"] },
    {
      name: "a stage, Synapse unchanged",
      evidence: { ...EMPTY, stage: STAGE },
      state: "prepared",
      codes: ["STAGE", "STAGE_LAG"],
    },
    {
      name: "a stage, a new user",
      evidence: lagging({ newUsers: { count: 1, examples: ["@new:example.com"] } }),
      state: "prepared",
      codes: ["STAGE", "SYNAPSE_NEW_USERS"],
    },
    {
      name: "a stage, new devices and tokens",
      evidence: lagging({ newDevices: 2, newAccessTokens: { count: 3, examples: ["@a:example.com"] }, newRefreshTokens: 1 }),
      state: "prepared",
      codes: ["STAGE", "SYNAPSE_NEW_DEVICES", "SYNAPSE_NEW_TOKENS", "SYNAPSE_NEW_REFRESH_TOKENS"],
    },
    {
      name: "a stage, Synapse already delegating",
      evidence: { ...EMPTY, stage: STAGE, delegation: "matrix_authentication_service" },
      state: "prepared",
      codes: ["STAGE", "STAGE_LAG", "DELEGATION"],
    },
    {
      name: "a stage without MAS's schema: not_migrated",
      evidence: { ...EMPTY, masSchema: false, stage: STAGE },
      state: "not_migrated",
      codes: ["MAS_SCHEMA_MISSING", "STAGE", "STAGE_BESIDE"],
    },
    {
      name: "a stage beside foreign users",
      evidence: { ...EMPTY, masRows: { users: 2 }, masUsernames: ["x"], stage: STAGE },
      state: "foreign",
      codes: ["MAS_FOREIGN_USERS", "STAGE", "STAGE_BESIDE"],
    },
    {
      name: "a stage beside a migration",
      evidence: {
        ...EMPTY,
        record: RECORD,
        masRows: { users: 3 },
        usersBeforeCommit: 3,
        activity: { since: RECORD.committedAt, kinds: {}, total: 0 },
        synapse: UNCHANGED,
        stage: STAGE,
      },
      state: "migrated",
      codes: ["MIGRATION_RECORD", "NO_DELEGATION", "MAS_ACTIVITY", "STAGE", "STAGE_BESIDE"],
    },
    {
      name: "a prepare running on a stage",
      evidence: { ...EMPTY, stage: STAGE, migrationRunning: true },
      state: "prepared",
      codes: ["STAGE", "STAGE_LAG", "MIGRATION_RUNNING"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = decideStatus(c.evidence);
      assert.equal(decision.state, c.state);
      assert.deepEqual(
        decision.evidence.map((e) => e.code),
        c.codes,
      );
    });
  }

  it("says the stage's dates and ages, and the lag against its last prepare", () => {
    const decision = decideStatus(
      lagging({ newUsers: { count: 2, examples: ["@a:example.com", "@b:example.com"] }, newDevices: 1 }),
    );
    assert.equal(
      decision.evidence[0]?.message,
      "MAS's database holds the stage of an online migration (schema syn2mas_stage, syn2mas 0.1.0), first prepared at " +
        "2026-11-01T10:00:00.000Z (2 h 5 min ago), last brought up to date at 2026-11-01T12:00:00.000Z (5 min 30 s ago): " +
        "3 users, 4 sessions.",
    );
    assert.equal(
      decision.evidence[1]?.message,
      "Synapse gained 2 users since the stage's last prepare (e.g. @a:example.com, @b:example.com).",
    );
    assert.equal(decision.evidence[2]?.message, "Synapse holds 1 more devices than at the stage's last prepare.");
    assert.match(decision.next, /stop Synapse and run syn2mas migrate/);
  });
});
