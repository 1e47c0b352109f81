/** `migrate`: the checked run (check-then-stream.ts) into MAS, in one transaction that this module owns. */
import type pg from "pg";
import type { Finding } from "../checks/finding.ts";
import { UserError } from "../errors/user-error.ts";
import { foreignKeyName, validateForeignKey, type ForeignKey } from "../target/constraints.ts";
import type { RunKind } from "../config/application-name.ts";
import { timedStep, type MigrationReport } from "../report/report.ts";
import { readLatestRecord, writeMigrationRecord } from "../target/migration-record.ts";
import { tryLockForTransaction, uncheckedMigrationKeys } from "../target/probe.ts";
import { TOOL_VERSION } from "../model/version.ts";
import { readSynapseMarks } from "../source/synapse-marks.ts";
import { stageExists, tidyStage } from "../target/stage.ts";
import { withTransaction, type LostCommitAnswer, type TxClient } from "../target/transaction.ts";
import { STAGE_NEEDS_POSTGRES, stagedWithin } from "./staged.ts";
import { connect } from "./connect.ts";
import { checkThenStream } from "./check-then-stream.ts";
import { copyInto } from "./copy-into.ts";
import { connectionsFor, unreadableSource, type RunSetup } from "./connections.ts";
import { withSynapseAndMas, type SynapseSide } from "./open-source.ts";
import type { ProgressListener } from "./progress.ts";

export interface MigrateOptions extends RunSetup {
  dryRun: boolean;
  /** Told as phases start, advance and end. */
  progress?: ProgressListener;
}

/** A finished run's outcome. */
type Done = Extract<MigrateOutcome, { status: "done" }>;

export type MigrateOutcome =
  | { status: "blocked"; findings: Finding[] }
  | {
      status: "done";
      findings: Finding[];
      report: MigrationReport;
      /** A cut-over: the foreign keys it added NOT VALID, validated once it has committed. */
      foreignKeysToValidate?: ForeignKey[];
    }
  | {
      /**
       * MAS already holds a migration whose cut-over stopped before it had checked these foreign
       * keys: a rerun checks them (a dry run names them). Nothing else is done.
       */
      status: "keys_checked";
      findings: Finding[];
      committedAt: Date;
      /** As `table.constraint`. */
      keys: string[];
    };

/** When COMMIT's answer to a prepare is lost: the stage is either the new one or the last one, both fine. */
const PREPARE_ANSWER_LOST: LostCommitAnswer = {
  message: "the answer to COMMIT from the MAS database was lost: this prepare may or may not have been saved",
  hint: "run `syn2mas prepare` again: it brings the stage up to date either way",
};

async function migrateWithin(
  options: MigrateOptions,
  synapse: SynapseSide,
  tx: TxClient,
): Promise<{ value: MigrateOutcome; commit: boolean }> {
  // A stage prepared while Synapse ran: bring it up to date and move it in (staged.ts).
  if (await stageExists(tx)) return stagedWithin({ ...options, cutOver: true }, synapse, tx);
  // A migration whose cut-over was stopped after its commit, before it had checked every key: finish that.
  const record = await readLatestRecord(tx);
  const unchecked = record === null ? [] : await uncheckedMigrationKeys(tx);
  // Another run holding the migration lock goes to the checks, which say so.
  if (record !== null && unchecked.length > 0 && (await tryLockForTransaction(tx))) {
    if (!options.dryRun) for (const key of unchecked) await validateCommittedKey(tx, key);
    return {
      value: { status: "keys_checked", findings: [], committedAt: record.committedAt, keys: unchecked.map(foreignKeyName) },
      commit: !options.dryRun,
    };
  }
  const started = performance.now();
  const now = Date.now();
  const source = await synapse.openSource();
  try {
    const readers = await synapse.openReaders();
    try {
      const { findings, blocked, report } = await checkThenStream({
        setup: options,
        readers,
        source,
        masDb: tx,
        destination: copyInto(tx, options.dryRun),
        dryRun: options.dryRun,
        progress: options.progress,
        now,
      });
      if (blocked || report === null) return { value: { status: "blocked", findings }, commit: false };
      // Last before COMMIT, in the same transaction: a dry run rolls it back with the rest.
      await writeMigrationRecord(tx, {
        toolVersion: TOOL_VERSION,
        runStartedAt: now,
        counts: report.written as Record<string, number>,
        // In the snapshot just migrated: what `status` compares Synapse with later.
        synapseMarks: await readSynapseMarks(readers),
      });
      report.totalSeconds = (performance.now() - started) / 1000;
      return { value: { status: "done", findings, report }, commit: !options.dryRun };
    } finally {
      await readers.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * Opens both databases named for `run`, runs `within` in one MAS transaction (committed, or
 * rolled back for a dry run or a block), then `afterCommit` on MAS's connection when it is done.
 */
async function inOneTransaction(
  options: MigrateOptions,
  run: RunKind,
  within: (synapse: SynapseSide, tx: TxClient) => Promise<{ value: MigrateOutcome; commit: boolean }>,
  afterCommit: (masDb: pg.Client, outcome: Done, connectMas: () => Promise<pg.Client>) => Promise<void>,
  lostAnswer?: LostCommitAnswer,
): Promise<MigrateOutcome> {
  const unreadable = unreadableSource(options);
  if (unreadable) return { status: "blocked", findings: unreadable };
  const named = connectionsFor(options, run);
  return withSynapseAndMas(named, async (synapse, masDb) => {
    const outcome = await withTransaction(
      masDb,
      (tx) => within(synapse, tx),
      () => connect(named.masTarget),
      lostAnswer,
    );
    if (outcome.status === "done") await afterCommit(masDb, outcome, () => connect(named.masTarget));
    return outcome;
  });
}

/**
 * `prepare`: brings the stage up to date with Synapse (made first when there is none), in one MAS
 * transaction, while Synapse runs. MAS's own tables are not touched. Then vacuums the stage.
 */
export async function prepare(options: MigrateOptions): Promise<MigrateOutcome> {
  if (options.synapse.databaseEngine === "sqlite3" && !unreadableSource(options)) throw STAGE_NEEDS_POSTGRES;
  return inOneTransaction(
    options,
    options.dryRun ? "prepare-dry-run" : "prepare",
    (synapse, tx) => stagedWithin({ ...options, cutOver: false }, synapse, tx),
    async (masDb, outcome) => {
      if (!options.dryRun) await timedStep(outcome.report, "vacuum_stage", () => tidyStage(masDb));
    },
    PREPARE_ANSWER_LOST,
  );
}

/**
 * Checks, then migrates everything in one MAS transaction, reading Synapse in one read-only
 * snapshot. Blocked by any error finding (nothing is written). A dry run ends in ROLLBACK.
 * With a stage, the cut-over (staged.ts); its foreign keys are validated once it has committed.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateOutcome> {
  return inOneTransaction(
    options,
    options.dryRun ? "dry-run" : "migrate",
    (synapse, tx) => migrateWithin(options, synapse, tx),
    async (masDb, outcome, connectMas) => {
      const keys = outcome.foreignKeysToValidate;
      if (keys) {
        await timedStep(outcome.report, "validate_foreign_keys", () =>
          validateAfterCutOver(masDb, connectMas, keys, outcome.report.written),
        );
      }
    },
  );
}

/**
 * The foreign keys split into `lanes` lists to validate side by side: the keys of one table in one
 * list (each validation locks its table against the others), the largest tables first, each to the
 * list with the fewest rows so far.
 */
export function validationLanes(
  keys: readonly ForeignKey[],
  rows: Partial<Record<string, number>>,
  lanes: number,
): ForeignKey[][] {
  const byTable = new Map<string, ForeignKey[]>();
  for (const key of keys) byTable.set(key.table, [...(byTable.get(key.table) ?? []), key]);
  const size = (table: string) => (rows[table] ?? 0) * (byTable.get(table)?.length ?? 0);
  const lists = Array.from({ length: lanes }, () => ({ keys: [] as ForeignKey[], rows: 0 }));
  for (const table of [...byTable.keys()].sort((a, b) => size(b) - size(a) || a.localeCompare(b))) {
    const lightest = lists.reduce((a, b) => (b.rows < a.rows ? b : a));
    lightest.keys.push(...(byTable.get(table) ?? []));
    lightest.rows += size(table);
  }
  return lists.map((l) => l.keys).filter((l) => l.length > 0);
}

/** Checks a foreign key of a committed migration against every row; one that fails says what to do. */
async function validateCommittedKey(client: pg.ClientBase, key: ForeignKey): Promise<void> {
  try {
    await validateForeignKey(client, key);
  } catch (error) {
    throw new UserError(
      `the migration committed, but MAS's foreign key ${key.name} on ${key.table} does not hold for every row`,
      "run `syn2mas verify` to see which rows differ, and `syn2mas rollback` to undo the migration",
      { cause: error },
    );
  }
}

/**
 * After a cut-over has committed: checks the foreign keys it added NOT VALID against every row,
 * on two connections (`masDb` and one more). MAS may already start meanwhile (validation lets
 * reads and writes go on). A key that fails says so, the migration stays committed.
 */
async function validateAfterCutOver(
  masDb: pg.Client,
  connectMas: () => Promise<pg.Client>,
  keys: readonly ForeignKey[],
  rows: Partial<Record<string, number>>,
): Promise<void> {
  const validateAll = async (client: pg.Client, lane: readonly ForeignKey[]) => {
    for (const key of lane) await validateCommittedKey(client, key);
  };
  const [first = [], second = []] = validationLanes(keys, rows, 2);
  if (second.length === 0) return validateAll(masDb, first);
  const other = await connectMas();
  try {
    const lanes = [validateAll(masDb, first), validateAll(other, second)];
    await Promise.all(lanes.map((lane) => lane.catch(() => undefined)));
    await Promise.all(lanes);
  } finally {
    await other.end().catch(() => undefined);
  }
}
