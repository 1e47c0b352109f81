/**
 * `status`: where a deployment stands in the migration's lifecycle, from both sides, read-only.
 * The evidence is gathered in one read-only transaction on MAS and in Synapse's read-only snapshot;
 * the state is decided from it by a pure function ({@link decideStatus}):
 *
 * - `not_migrated`: no record of a migration, and the tables the migration writes are empty.
 * - `prepared`: the same, and MAS's database holds the stage of an online migration (`prepare`):
 *   its age, and how far Synapse moved since its last prepare (its lag), compared as for a migration.
 * - `foreign`: MAS holds users this tool did not write: rows and no record, or more users dated
 *   before the migration's commit than the migration wrote (users created after it are activity).
 * - `delegated`: a migration, and Synapse's configuration delegates authentication to MAS.
 * - `diverged`: a migration, Synapse does not delegate, and it gained users, devices or tokens
 *   beyond the marks the migration recorded (it ran on its own; the migrated data is stale).
 * - `migrated`: a migration, Synapse does not delegate and gained nothing since.
 */
import type pg from "pg";
import { DEFAULT_POLICY } from "../checks/policy.ts";
import type { SynapseConfig } from "../config/types.ts";
import { UserError } from "../errors/user-error.ts";
import type { SynapseMarks } from "../model/synapse-marks.ts";
import type { SnapshotReaders } from "../source/snapshot-readers.ts";
import { readSynapseChanges, type SynapseChanges } from "../source/synapse-marks.ts";
import { readMasActivity, type MasActivity } from "../target/mas-activity.ts";
import { readStage, STAGE_SCHEMA } from "../target/stage.ts";
import { countUsersCreatedBy } from "../target/mas-users.ts";
import { foreignKeyName } from "../target/constraints.ts";
import { readLatestRecord, type MigrationRecord } from "../target/migration-record.ts";
import {
  countNonEmptyTargets,
  isSynapseDatabase,
  migrationLockHeld,
  probeMasSchema,
  someMasUsernames,
  uncheckedMigrationKeys,
} from "../target/probe.ts";
import { connectionsFor, unreadableSource, type RunSetup } from "./connections.ts";
import { withSynapseAndMas } from "./open-source.ts";

export const MIGRATION_STATES = ["not_migrated", "prepared", "migrated", "delegated", "diverged", "foreign"] as const;
export type MigrationState = (typeof MIGRATION_STATES)[number];

/** How many user ids an evidence line shows. */
const EXAMPLES = 5;

/** What `status` found on both sides: the input of {@link decideStatus}. */
export interface StatusEvidence {
  serverName: string;
  /** The key through which Synapse's configuration delegates to MAS; undefined when it does not. */
  delegation: SynapseConfig["authDelegation"];
  /** MAS's schema exists (`_sqlx_migrations`): MAS has set its database up. */
  masSchema: boolean;
  record: MigrationRecord | null;
  /** Rows of the tables the migration writes, the empty ones left out. */
  masRows: Record<string, number>;
  /** A few MAS usernames (localparts), for a MAS that holds users without a record. */
  masUsernames: string[];
  /** MAS users dated at or before the record's commit (null without a record). */
  usersBeforeCommit: number | null;
  /** MAS's activity since the record's commit (null without a record). */
  activity: MasActivity | null;
  /** What Synapse gained and served since the migration (null without a record). */
  synapse: SynapseChanges | null;
  /** A syn2mas migration holds the migration lock on MAS right now (its rows are not committed yet). */
  migrationRunning: boolean;
  /** The stage of an online migration in MAS's database (`prepare`); null or absent without one. */
  stage?: StageEvidence | null;
  /** MAS's foreign keys on the migrated tables not yet checked against every row ("table.name"). */
  uncheckedForeignKeys?: string[];
}

/** What `status` found of a stage. */
export interface StageEvidence {
  /** When the first prepare started. */
  createdAt: Date;
  /** When the stage was last brought up to date (its last prepare's snapshot). */
  updatedAt: Date;
  /** When status read it: the ages are measured to this moment. */
  readAt: Date;
  toolVersion: string;
  /** Rows per MAS table in the stage. */
  counts: Record<string, number>;
  /** What Synapse gained beyond the marks of the stage's last prepare: its lag. */
  synapse: SynapseChanges;
}

/** One piece of evidence: a code for tools, a sentence for people, and the user ids it is about. */
export interface EvidenceItem {
  code: string;
  message: string;
  count?: number;
  examples?: string[];
}

export interface StatusDecision {
  state: MigrationState;
  evidence: EvidenceItem[];
  /** What the operator does next, in one or two sentences. */
  next: string;
}

const NEXT: Record<MigrationState, string> = {
  not_migrated: "Migrate: syn2mas check, then stop Synapse and run syn2mas migrate (see the README's cut-over steps).",
  prepared:
    "Run syn2mas prepare again (Synapse running, as often as wanted) to keep the stage close to Synapse; for the cut-over, " +
    "stop Synapse and run syn2mas migrate with the same options, then syn2mas verify. To discard the stage: syn2mas rollback.",
  migrated:
    "Run syn2mas verify; then switch Synapse's configuration to delegate to MAS (syn2mas config generate --synapse-output) " +
    "and start MAS and Synapse. To undo the migration instead: syn2mas rollback.",
  delegated:
    "Nothing: the migration is complete and MAS serves the logins. Once users have moved in, rolling back discards what " +
    "they did in MAS (syn2mas rollback refuses unless --discard-mas-activity is given).",
  diverged:
    "Stop Synapse, roll the migration back (syn2mas rollback), then migrate again (syn2mas check, syn2mas migrate, " +
    "syn2mas verify) and switch Synapse's configuration to delegate to MAS before starting it.",
  foreign:
    "This tool will not touch users it did not write. Migrate into a freshly created MAS database (drop and recreate it, " +
    "run mas-cli database migrate and mas-cli config sync), or run syn2mas verify to see which rows MAS holds beyond the migration.",
};

const userId = (serverName: string) => (localpart: string) => `@${localpart}:${serverName}`;

/** Examples in the text form ` (e.g. a, b)`; nothing without any. */
function eg(examples: readonly string[] | undefined): string {
  return examples === undefined || examples.length === 0 ? "" : ` (e.g. ${examples.join(", ")})`;
}

function item(code: string, message: string, sample?: { count: number; examples?: string[] }): EvidenceItem {
  return sample === undefined
    ? { code, message }
    : { code, message, count: sample.count, ...(sample.examples ? { examples: sample.examples } : {}) };
}

function recordItem(record: MigrationRecord): EvidenceItem {
  const users = record.counts["users"] ?? 0;
  return item(
    "MIGRATION_RECORD",
    `MAS holds this tool's migration, committed at ${record.committedAt.toISOString()} by syn2mas ${record.toolVersion} ` +
      `(${users} users, ${record.counts["compat_sessions"] ?? 0} sessions).`,
  );
}

function delegationItem(delegation: StatusEvidence["delegation"]): EvidenceItem {
  return delegation === undefined
    ? item("NO_DELEGATION", "Synapse's configuration does not delegate authentication to MAS.")
    : item("DELEGATION", `Synapse's configuration delegates authentication to MAS (${delegation}.enabled: true).`);
}

/** MAS's activity since the migration: one item per kind. */
function activityItems(activity: MasActivity, serverName: string): EvidenceItem[] {
  if (activity.total === 0) return [item("MAS_ACTIVITY", "MAS holds no activity since the migration.", { count: 0 })];
  return Object.entries(activity.kinds).map(([kind, k]) => {
    const examples = k.examples.map(userId(serverName));
    return item("MAS_ACTIVITY", `MAS activity since the migration: ${kind} ${k.count}${eg(examples)}.`, {
      count: k.count,
      examples,
    });
  });
}

/** The moment Synapse is compared with, in the gains' sentences. */
interface MarkedMoment {
  /** "after the migration" */
  after: string;
  /** "at the migration" */
  at: string;
}

const AT_MIGRATION: MarkedMoment = { after: "after the migration", at: "at the migration" };
const AT_LAST_PREPARE: MarkedMoment = { after: "since the stage's last prepare", at: "at the stage's last prepare" };

/**
 * What Synapse gained beyond the marks of `moment`: after a migration the evidence of divergence,
 * after a stage's last prepare its lag.
 */
function synapseGains(changes: SynapseChanges, moment: MarkedMoment = AT_MIGRATION): EvidenceItem[] {
  const gains: EvidenceItem[] = [];
  if (changes.newUsers.count > 0) {
    gains.push(
      item(
        "SYNAPSE_NEW_USERS",
        `Synapse gained ${changes.newUsers.count} users ${moment.after}${eg(changes.newUsers.examples)}.`,
        changes.newUsers,
      ),
    );
  }
  if ((changes.newDevices ?? 0) > 0) {
    gains.push(
      item("SYNAPSE_NEW_DEVICES", `Synapse holds ${changes.newDevices} more devices than ${moment.at}.`, {
        count: changes.newDevices ?? 0,
      }),
    );
  }
  const tokens = changes.newAccessTokens;
  if (tokens !== null && tokens.count > 0) {
    gains.push(
      item("SYNAPSE_NEW_TOKENS", `Synapse issued ${tokens.count} access tokens ${moment.after}${eg(tokens.examples)}.`, tokens),
    );
  }
  if ((changes.newRefreshTokens ?? 0) > 0) {
    gains.push(
      item("SYNAPSE_NEW_REFRESH_TOKENS", `Synapse issued ${changes.newRefreshTokens} refresh tokens ${moment.after}.`, {
        count: changes.newRefreshTokens ?? 0,
      }),
    );
  }
  return gains;
}

/** Synapse answered clients after the migration: not a divergence by itself (no row gained), but worth knowing. */
function synapseServed(changes: SynapseChanges, marks: SynapseMarks | null): EvidenceItem[] {
  const served: EvidenceItem[] = [];
  if (changes.devicesSeen.count > 0) {
    served.push(
      item(
        "SYNAPSE_SERVED",
        `Synapse served requests after the migration: ${changes.devicesSeen.count} devices seen since${eg(changes.devicesSeen.examples)}.`,
        changes.devicesSeen,
      ),
    );
  }
  if (changes.tokensValidated > 0) {
    served.push(
      item("SYNAPSE_SERVED", `Synapse validated ${changes.tokensValidated} access tokens after the migration.`, {
        count: changes.tokensValidated,
      }),
    );
  }
  if (marks === null) {
    served.push(
      item(
        "NO_SYNAPSE_MARKS",
        "The migration's record has no Synapse marks (an older syn2mas): only users created since are known, not new devices or tokens.",
      ),
    );
  }
  return served;
}

/** A duration in its two largest units, for people: `3 d 4 h`, `2 h 5 min`, `4 min 10 s`, `12 s`. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const units: [string, number][] = [
    ["d", 86_400],
    ["h", 3_600],
    ["min", 60],
    ["s", 1],
  ];
  const first = units.findIndex(([, size]) => seconds >= size);
  if (first === -1) return "0 s";
  const [bigName, bigSize] = units[first] as [string, number];
  const parts = [`${Math.floor(seconds / bigSize)} ${bigName}`];
  const next = units[first + 1];
  if (next !== undefined && Math.floor((seconds % bigSize) / next[1]) > 0) {
    parts.push(`${Math.floor((seconds % bigSize) / next[1])} ${next[0]}`);
  }
  return parts.join(" ");
}

/** The stage: when it was made and last brought up to date, and what it holds. */
function stageItem(stage: StageEvidence): EvidenceItem {
  const age = (at: Date) => `${at.toISOString()} (${formatAge(stage.readAt.getTime() - at.getTime())} ago)`;
  return item(
    "STAGE",
    `MAS's database holds the stage of an online migration (schema ${STAGE_SCHEMA}, syn2mas ${stage.toolVersion}), ` +
      `first prepared at ${age(stage.createdAt)}, last brought up to date at ${age(stage.updatedAt)}: ` +
      `${stage.counts["users"] ?? 0} users, ${stage.counts["compat_sessions"] ?? 0} sessions.`,
  );
}

/** The stage's lag: what Synapse gained since its last prepare, or that it gained nothing. */
function stageLag(stage: StageEvidence): EvidenceItem[] {
  const gains = synapseGains(stage.synapse, AT_LAST_PREPARE);
  if (gains.length > 0) return gains;
  return [
    item(
      "STAGE_LAG",
      "Synapse gained no users, devices or tokens since the stage's last prepare " +
        "(changes to existing users' rows are found by the next prepare or the cut-over).",
      { count: 0 },
    ),
  ];
}

/** The lag in numbers, for --json: what Synapse gained since the stage's last prepare. */
function lagCounts(changes: SynapseChanges): StageLag {
  return {
    newUsers: changes.newUsers.count,
    newDevices: changes.newDevices ?? 0,
    newAccessTokens: changes.newAccessTokens?.count ?? 0,
    newRefreshTokens: changes.newRefreshTokens ?? 0,
  };
}

/** The state, its evidence and what to do next: a pure function of what both sides hold. */
export function decideStatus(e: StatusEvidence): StatusDecision {
  const running = e.migrationRunning
    ? [item("MIGRATION_RUNNING", "A syn2mas migration is writing to MAS right now: this state is the one before it commits.")]
    : [];
  const stage = e.stage ?? null;
  // A stage beside a migration or users of another tool (a prepare run after them): said, so that it is not forgotten.
  const stageBeside =
    stage === null
      ? []
      : [
          stageItem(stage),
          item("STAGE_BESIDE", `The stage is not needed here: syn2mas rollback removes it (schema ${STAGE_SCHEMA}).`),
        ];
  // Checking the keys a cut-over left unchecked comes before anything else a migration needs.
  const firstCheckKeys =
    e.record !== null && (e.uncheckedForeignKeys ?? []).length > 0
      ? "First run syn2mas migrate again: it checks the foreign keys the cut-over left unchecked. "
      : "";
  const decided = (state: MigrationState, evidence: EvidenceItem[]): StatusDecision => ({
    state,
    evidence: [...evidence, ...(state === "prepared" ? [] : stageBeside), ...running],
    next: firstCheckKeys + NEXT[state],
  });
  const users = e.masRows["users"] ?? 0;
  if (e.record === null) {
    const nonEmpty = Object.entries(e.masRows).filter(([, n]) => n > 0);
    if (nonEmpty.length === 0) {
      const delegating =
        e.delegation === undefined
          ? []
          : [
              item(
                "DELEGATION",
                `Synapse's configuration already delegates authentication to MAS (${e.delegation}.enabled: true), ` +
                  "but MAS holds no migration: Synapse's users cannot log in.",
              ),
            ];
      if (stage !== null && e.masSchema) return decided("prepared", [stageItem(stage), ...stageLag(stage), ...delegating]);
      const empty = e.masSchema
        ? item("MAS_EMPTY", "MAS holds no users and no record of a migration.")
        : item("MAS_SCHEMA_MISSING", "MAS's database has no schema yet (run mas-cli database migrate before migrating).");
      return decided("not_migrated", [empty, ...delegating]);
    }
    const rows = nonEmpty.map(([t, n]) => `${t} ${n}`).join(", ");
    return decided("foreign", [
      item(
        "MAS_FOREIGN_USERS",
        `MAS holds ${users} users${eg(e.masUsernames.map(userId(e.serverName)))} and no record of a migration by this tool ` +
          `(rows: ${rows}): another tool, or MAS used on its own, wrote them.`,
        { count: users, examples: e.masUsernames.map(userId(e.serverName)) },
      ),
    ]);
  }
  const migrated = e.record.counts["users"] ?? 0;
  const before = e.usersBeforeCommit ?? 0;
  if (before > migrated) {
    return decided("foreign", [
      recordItem(e.record),
      item(
        "MAS_FOREIGN_USERS",
        `MAS holds ${before} users dated before the migration's commit, but the migration wrote ${migrated}: ` +
          `${before - migrated} of them were written by something else (syn2mas verify lists them as unexpected).`,
        { count: before - migrated },
      ),
    ]);
  }
  const activity = e.activity === null ? [] : activityItems(e.activity, e.serverName);
  const gains = e.synapse === null ? [] : synapseGains(e.synapse);
  const served = e.synapse === null ? [] : synapseServed(e.synapse, e.record.synapseMarks);
  const unchecked = e.uncheckedForeignKeys ?? [];
  const uncheckedItems =
    unchecked.length === 0
      ? []
      : [
          item(
            "UNCHECKED_FOREIGN_KEYS",
            `The migration's cut-over stopped before it had checked ${unchecked.length} of MAS's foreign keys against every ` +
              "row: run syn2mas migrate again to check them (it does nothing else).",
            { count: unchecked.length, examples: unchecked.slice(0, EXAMPLES) },
          ),
        ];
  const common = [recordItem(e.record), ...uncheckedItems, delegationItem(e.delegation)];
  if (e.delegation !== undefined) {
    // MAS itself provisions users and devices in a delegating Synapse; tokens of Synapse's own it never makes.
    const ownTokens = gains.filter((g) => g.code === "SYNAPSE_NEW_TOKENS" || g.code === "SYNAPSE_NEW_REFRESH_TOKENS");
    return decided("delegated", [...common, ...activity, ...ownTokens, ...served]);
  }
  if (gains.length > 0) return decided("diverged", [...common, ...gains, ...served, ...activity]);
  return decided("migrated", [...common, ...served, ...activity]);
}

/** What `status` reports (its --json, besides the command). */
export interface StatusOutcome extends StatusDecision {
  /** When the migration committed (ISO 8601), null without one. */
  migratedAt: string | null;
  /** The syn2mas version that migrated, null without a migration. */
  version: string | null;
  /** Rows the migration wrote per MAS table, null without a migration. */
  counts: Record<string, number> | null;
  /** MAS's activity since the migration, user ids in full; null without a migration. */
  activity: { since: string; total: number; kinds: Record<string, { count: number; examples: string[] }> } | null;
  /** The stage of an online migration in MAS's database, null without one. */
  stage: {
    createdAt: string;
    updatedAt: string;
    /** Seconds since the first prepare started. */
    ageSeconds: number;
    /** Seconds since the stage's last prepare. */
    secondsSinceLastPrepare: number;
    version: string;
    counts: Record<string, number>;
    /** What Synapse gained since the stage's last prepare. */
    lag: StageLag;
  } | null;
}

/** What Synapse gained beyond a stage's last prepare. */
export interface StageLag {
  newUsers: number;
  newDevices: number;
  newAccessTokens: number;
  newRefreshTokens: number;
}

/** Synapse's tables and columns that `status` reads. */
const SYNAPSE_COLUMNS = [
  "users.name",
  "users.creation_ts",
  "devices.user_id",
  "devices.device_id",
  "devices.last_seen",
  "access_tokens.id",
  "access_tokens.user_id",
  "access_tokens.last_validated",
  "refresh_tokens.id",
];

async function requireSynapseColumns(readers: SnapshotReaders): Promise<void> {
  const have = await readers.presentColumns(["users", "devices", "access_tokens", "refresh_tokens"]);
  const missing = SYNAPSE_COLUMNS.filter((c) => !have.has(c));
  if (missing.length > 0) {
    throw new UserError(
      `Synapse's database lacks ${missing.join(", ")}: it is not a Synapse database this tool reads`,
      "point the database section of --synapse-config (or --synapse-database-uri) at Synapse's database",
    );
  }
}

/**
 * Reads both sides and decides the state. MAS is read in one REPEATABLE READ, READ ONLY
 * transaction (rolled back); Synapse in its read-only snapshot. Nothing is written anywhere.
 */
export async function status(
  setup: Pick<RunSetup, "synapse" | "mas" | "synapseTarget" | "masTarget" | "extraSynapseConnections">,
): Promise<StatusOutcome> {
  const unreadable = unreadableSource({ ...setup, policy: DEFAULT_POLICY });
  if (unreadable) {
    const cause = unreadable.find((f) => f.code === "UNSUPPORTED_DATABASE");
    throw new UserError(
      `cannot read Synapse's database: ${cause?.message ?? "unsupported"}`,
      "run syn2mas check with the same options to see why",
    );
  }
  return withSynapseAndMas(connectionsFor(setup, "status"), async (synapse, masDb) => {
    const source = await synapse.openSource();
    try {
      const readers = await synapse.openReaders();
      try {
        await masDb.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        try {
          return await readBoth(setup.synapse, readers, masDb);
        } finally {
          await masDb.query("ROLLBACK").catch(() => undefined);
        }
      } finally {
        await readers.close();
      }
    } finally {
      await source.close();
    }
  });
}

async function readBoth(synapseConfig: SynapseConfig, readers: SnapshotReaders, masDb: pg.ClientBase): Promise<StatusOutcome> {
  if (await isSynapseDatabase(masDb)) {
    throw new UserError(
      "the MAS database is Synapse's database, not MAS's: it holds Synapse's tables",
      "point database.uri in the MAS configuration at MAS's own database",
    );
  }
  await requireSynapseColumns(readers);
  const schema = await probeMasSchema(masDb);
  const record = await readLatestRecord(masDb);
  const serverName = synapseConfig.serverName;
  let masRows: Record<string, number> = {};
  let masUsernames: string[] = [];
  if (schema.hasMigrationsTable) {
    if (schema.missingColumns.length > 0) {
      throw new UserError(
        `the MAS schema lacks ${schema.missingColumns.slice(0, EXAMPLES).join(", ")}: it is not a MAS schema this tool reads`,
        "upgrade MAS and run mas-cli database migrate, or point --config's database section at MAS's database",
      );
    }
    masRows = Object.fromEntries(await countNonEmptyTargets(masDb));
    if (record === null && (masRows["users"] ?? 0) > 0) masUsernames = await someMasUsernames(masDb, EXAMPLES);
  }
  const since = record?.committedAt;
  const activity = since === undefined || !schema.hasMigrationsTable ? null : await readMasActivity(masDb, since);
  const usersBeforeCommit = since === undefined || !schema.hasMigrationsTable ? null : await countUsersCreatedBy(masDb, since);
  const changes = record === null ? null : await readSynapseChanges(readers, record.synapseMarks, record.committedAt, EXAMPLES);
  const stage = schema.hasMigrationsTable ? await readStageEvidence(readers, masDb) : null;
  const decision = decideStatus({
    serverName,
    delegation: synapseConfig.authDelegation,
    masSchema: schema.hasMigrationsTable,
    record,
    masRows,
    masUsernames,
    usersBeforeCommit,
    activity,
    synapse: changes,
    migrationRunning: await migrationLockHeld(masDb),
    stage,
    uncheckedForeignKeys:
      record === null || !schema.hasMigrationsTable ? [] : (await uncheckedMigrationKeys(masDb)).map(foreignKeyName),
  });
  const toUserId = userId(serverName);
  return {
    ...decision,
    migratedAt: record?.committedAt.toISOString() ?? null,
    version: record?.toolVersion ?? null,
    counts: record?.counts ?? null,
    activity:
      activity === null
        ? null
        : {
            since: activity.since.toISOString(),
            total: activity.total,
            kinds: Object.fromEntries(
              Object.entries(activity.kinds).map(([k, v]) => [k, { count: v.count, examples: v.examples.map(toUserId) }]),
            ),
          },
    stage:
      stage === null
        ? null
        : {
            createdAt: stage.createdAt.toISOString(),
            updatedAt: stage.updatedAt.toISOString(),
            ageSeconds: Math.floor((stage.readAt.getTime() - stage.createdAt.getTime()) / 1000),
            secondsSinceLastPrepare: Math.floor((stage.readAt.getTime() - stage.updatedAt.getTime()) / 1000),
            version: stage.toolVersion,
            counts: stage.counts,
            lag: lagCounts(stage.synapse),
          },
  };
}

/** The stage, if any, and Synapse's changes since its last prepare (its marks, as a migration's record's). */
async function readStageEvidence(readers: SnapshotReaders, masDb: pg.ClientBase): Promise<StageEvidence | null> {
  const stage = await readStage(masDb);
  if (stage === null) return null;
  const updatedAt = new Date(stage.updatedAt);
  // A stage's marks are written by every prepare; without them only users created since are known.
  const marks = typeof stage.synapseMarks.users === "number" ? stage.synapseMarks : null;
  return {
    createdAt: new Date(stage.createdAt),
    updatedAt,
    readAt: new Date(),
    toolVersion: stage.toolVersion,
    counts: stage.counts as Record<string, number>,
    synapse: await readSynapseChanges(readers, marks, updatedAt, EXAMPLES),
  };
}
