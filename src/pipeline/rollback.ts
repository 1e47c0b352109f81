/**
 * `rollback`: undoes a migration that users have not moved into yet, and removes the stage of an
 * online migration (`prepare`), in one MAS transaction that holds the migration lock, as `migrate`
 * does. MAS is left as an empty MAS again; Synapse is only read (to count the rows a delegating
 * Synapse wrote, which the operator removes). No replication slot is ever made (a stage is found
 * up to date from row versions), so none is left to remove.
 */
import { DELETE_OAUTH_DELEGATED, OAUTH_DELEGATED } from "../checks/synapse-db.ts";
import { DEFAULT_POLICY } from "../checks/policy.ts";
import { UserError } from "../errors/user-error.ts";
import { countExternalIdsOf } from "../source/synapse-stats.ts";
import { readMasActivity, type MasActivity } from "../target/mas-activity.ts";
import { readLatestRecord, type MigrationRecord } from "../target/migration-record.ts";
import { countNonEmptyTargets, isSynapseDatabase, probeMasSchema, tryLockForTransaction } from "../target/probe.ts";
import { planRollback, removeMigrationRecord, type RecordRemoval, type RollbackPlan } from "../target/rollback.ts";
import { dropStage, readStage, STAGE_SCHEMA, type StageState } from "../target/stage.ts";
import { withTransaction, type TxClient } from "../target/transaction.ts";
import { connect } from "./connect.ts";
import { connectionsFor, unreadableSource, type RunSetup } from "./connections.ts";
import { withSynapseAndMas, type SynapseSide } from "./open-source.ts";

export interface RollbackOptions extends Pick<
  RunSetup,
  "synapse" | "mas" | "synapseTarget" | "masTarget" | "extraSynapseConnections"
> {
  /** Do everything, then roll MAS's transaction back. */
  dryRun: boolean;
  /** Roll back even though MAS holds activity since the migration, discarding it. */
  discardMasActivity: boolean;
}

/** The rows a delegating Synapse wrote, which a later migration must not carry: the operator removes them. */
export interface OauthDelegatedRows {
  count: number;
  /** The statement that removes them (the same on PostgreSQL and SQLite). */
  statement: string;
}

/** The stage of an online migration that a rollback removes: the schema, dropped with everything in it. */
export interface StageRemoval {
  schema: string;
  /** When its first prepare started (ISO 8601). */
  createdAt: string;
  /** When it was last brought up to date (ISO 8601). */
  updatedAt: string;
  version: string;
  /** Rows per MAS table it held. */
  counts: Record<string, number>;
}

export interface RollbackOutcome {
  /** `blocked`: MAS holds activity since the migration and --discard-mas-activity was not given; nothing changed. */
  status: "rolled_back" | "blocked";
  dryRun: boolean;
  /** The migration undone (its latest record); null when MAS holds only a stage. */
  record: MigrationRecord | null;
  /** What MAS holds that the migration did not write: what blocks, or (with --discard-mas-activity) what is discarded; null without a migration. */
  activity: MasActivity | null;
  /** The rows removed (when blocked: that would be removed), per table; null without a migration (MAS's tables untouched). */
  removed: RollbackPlan | null;
  /** The stage removed (when blocked: that would be removed); null without one. */
  stage: StageRemoval | null;
  /** What became of the record; null when blocked. */
  recordRemoval: RecordRemoval | null;
  /** Activity left in MAS after the rollback: rows that reference no user the rollback removed. Null when blocked. */
  activityLeft: MasActivity | null;
  synapse: { oauthDelegated: OauthDelegatedRows };
}

/** How long a statement waits for a table lock before giving up (MAS must be stopped), as migrate. */
const LOCK_TIMEOUT = "15s";

/** When COMMIT's answer is lost: the rollback may or may not have happened, and the users table tells. */
const ROLLBACK_ANSWER_LOST = {
  message:
    "the answer to COMMIT from the MAS database was lost, and MAS could not tell whether the rollback committed (it may still be committing)",
  hint: "see whether MAS's users table is empty: if it is, the rollback is done; if not, run rollback again",
};

/** Synapse's `oauth-delegated` external ids, counted in one read-only snapshot. */
async function countOauthDelegated(synapse: SynapseSide): Promise<OauthDelegatedRows> {
  const source = await synapse.openSource();
  try {
    const readers = await synapse.openReaders();
    try {
      return { count: await countExternalIdsOf(readers, OAUTH_DELEGATED), statement: DELETE_OAUTH_DELEGATED };
    } finally {
      await readers.close();
    }
  } finally {
    await source.close();
  }
}

/** Why there is nothing this tool may roll back, as the error the operator sees. */
async function noRecord(tx: TxClient): Promise<UserError> {
  if (await isSynapseDatabase(tx)) {
    return new UserError(
      "the MAS database is Synapse's database, not MAS's: it holds Synapse's tables (schema_version, event_json, room_memberships)",
      "point database.uri in the MAS configuration at MAS's own database",
    );
  }
  if (!(await probeMasSchema(tx)).hasMigrationsTable) {
    return new UserError(
      "the MAS database has no _sqlx_migrations table: it is not a MAS database, so it holds no migration to roll back",
      "check the database settings of the MAS configuration",
    );
  }
  const users = (await countNonEmptyTargets(tx)).get("users") ?? 0;
  if (users === 0) {
    return new UserError(
      "MAS holds no syn2mas migration (no record in syn2mas.migrations, and no users): there is nothing to roll back",
      "run `syn2mas migrate` when you are ready to migrate",
    );
  }
  return new UserError(
    `MAS holds ${users} users but no record of a syn2mas migration: this tool did not write them (or a version too old ` +
      "to leave a record did), so rollback leaves them alone",
    "restore MAS's database from the backup taken before the migration, or drop it and create it again with `mas-cli database migrate`",
  );
}

/** Whether anything but the migration's own rows would go. */
function holdsActivity(activity: MasActivity, plan: RollbackPlan): boolean {
  return activity.total > 0 || Object.keys(plan.referencingRows).length > 0;
}

async function rollbackWithin(
  options: RollbackOptions,
  tx: TxClient,
  oauthDelegated: OauthDelegatedRows,
): Promise<{ value: RollbackOutcome; commit: boolean }> {
  await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
  if (!(await tryLockForTransaction(tx))) {
    throw new UserError(
      "another syn2mas run (a migrate or a rollback) is writing to this MAS database right now",
      "wait for it to finish, then run rollback again",
    );
  }
  const record = await readLatestRecord(tx);
  const stageState = await readStage(tx);
  const stage = stageState === null ? null : stageRemoval(stageState);
  if (record === null) {
    if (stage === null) throw await noRecord(tx);
    // Only a stage: MAS's own tables are not touched.
    await dropStage(tx);
    const value: RollbackOutcome = {
      status: "rolled_back",
      dryRun: options.dryRun,
      record: null,
      activity: null,
      removed: null,
      stage,
      recordRemoval: null,
      activityLeft: null,
      synapse: { oauthDelegated },
    };
    return { value, commit: !options.dryRun };
  }
  // Planned first: the plan locks the tables it deletes from, so the activity read next stays true until COMMIT.
  const { delete: deleteRows, ...removed } = await planRollback(tx);
  const activity = await readMasActivity(tx, record.committedAt);
  const base = { dryRun: options.dryRun, record, activity, removed, stage, synapse: { oauthDelegated } };
  if (holdsActivity(activity, removed) && !options.discardMasActivity) {
    return { value: { ...base, status: "blocked", recordRemoval: null, activityLeft: null }, commit: false };
  }
  await deleteRows();
  const recordRemoval = await removeMigrationRecord(tx);
  // A prepare run after the migration left a stage beside it: it goes too.
  if (stage !== null) await dropStage(tx);
  const activityLeft = await readMasActivity(tx, record.committedAt);
  return { value: { ...base, status: "rolled_back", recordRemoval, activityLeft }, commit: !options.dryRun };
}

function stageRemoval(stage: StageState): StageRemoval {
  return {
    schema: STAGE_SCHEMA,
    createdAt: new Date(stage.createdAt).toISOString(),
    updatedAt: new Date(stage.updatedAt).toISOString(),
    version: stage.toolVersion,
    counts: stage.counts as Record<string, number>,
  };
}

/**
 * Removes the migration's rows and its record, and the stage, from MAS in one transaction (a dry
 * run ends in ROLLBACK), after counting Synapse's `oauth-delegated` external ids. Refuses,
 * changing nothing, when MAS holds activity since the migration unless `discardMasActivity`.
 */
export async function rollback(options: RollbackOptions): Promise<RollbackOutcome> {
  const unreadable = unreadableSource({ ...options, policy: DEFAULT_POLICY });
  const unsupported = unreadable?.find((f) => f.code === "UNSUPPORTED_DATABASE");
  if (unsupported !== undefined) {
    throw new UserError(
      `Synapse's database.name is "${options.synapse.databaseEngine}", which this tool does not read`,
      "set database.name to psycopg2 or sqlite3, or pass --synapse-database-uri postgresql://... or sqlite:///path/to/homeserver.db",
    );
  }
  const named = connectionsFor(options, options.dryRun ? "rollback-dry-run" : "rollback");
  return withSynapseAndMas(named, async (synapse, masDb) => {
    const oauthDelegated = await countOauthDelegated(synapse);
    return withTransaction(
      masDb,
      (tx) => rollbackWithin(options, tx, oauthDelegated),
      () => connect(named.masTarget),
      ROLLBACK_ANSWER_LOST,
    );
  });
}
