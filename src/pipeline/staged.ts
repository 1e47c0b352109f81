/**
 * The online migration: `prepare` brings a stage in MAS's database (target/stage.ts) up to date
 * with Synapse while Synapse runs, and `migrate` with a stage brings it up to date one last time
 * and moves it into MAS's tables. Each run is one MAS transaction: a killed run leaves the stage
 * as the last committed run left it, and MAS's tables as they were.
 *
 * How changes are found: from the row versions of Synapse's PostgreSQL against the mark the last
 * run saved, and per-user row counts (pipeline/changed-users.ts). A user with a row written or
 * deleted since, whose rows took a run's time for a time Synapse lacks, or whose session ended
 * since the last run has its Synapse rows read and mapped again, and its stage rows brought to
 * them (target/stage.ts applyChangedRows); no other row is read. A mark that cannot be compared
 * (another database, a restored one, too many transactions since) makes the stage again from
 * scratch.
 */
import { createHash, randomBytes } from "node:crypto";
import { synapseAuthProviders } from "../checks/synapse-db.ts";
import { UserError } from "../errors/user-error.ts";
import type { MasTableName } from "../model/mas.ts";
import type { UserRowCounts } from "../model/user-buckets.ts";
import type { SynapseMarks } from "../model/synapse-marks.ts";
import { checkUserId } from "../model/user-id.ts";
import { TOOL_VERSION } from "../model/version.ts";
import { timedStep, type MigrationReport, type StageSummary } from "../report/report.ts";
import { readSynapseMarks } from "../source/synapse-marks.ts";
import { writeMigrationRecord } from "../target/migration-record.ts";
import {
  applyChangedRows,
  changedRowsTable,
  createChangedRowsTables,
  createStage,
  inStage,
  masSchemaDigest,
  moveStageIntoMas,
  readStage,
  saveAllUserRows,
  saveChangedUserRows,
  saveStageProgress,
} from "../target/stage.ts";
import { validateForeignKey, type ForeignKey } from "../target/constraints.ts";
import type { TxClient } from "../target/transaction.ts";
import { usersToReread } from "./changed-users.ts";
import { checkThenStream, type RowDestination } from "./check-then-stream.ts";
import type { RunSetup } from "./connections.ts";
import { copyInto, loadThroughCopy } from "./copy-into.ts";
import type { MigrateOptions, MigrateOutcome } from "./migrate.ts";
import type { SynapseSide } from "./open-source.ts";

/** The message when Synapse's database cannot feed a stage. */
export const STAGE_NEEDS_POSTGRES = new UserError(
  "an online migration (prepare) needs Synapse's database on PostgreSQL: changes are found from its row versions",
  "migrate a SQLite Synapse with `syn2mas migrate` while Synapse is stopped",
);

/**
 * A digest of what the mapping and the checks of a delta depend on besides Synapse's rows: a
 * stage filled under other settings (another server name, other providers, links or Synapse
 * providers, skipping invalid rows or not) is filled again from scratch.
 */
export function stageSetupDigest(
  setup: Pick<RunSetup, "synapse" | "providers" | "links" | "fileLinks"> & { skipInvalidRows: boolean },
): string {
  const maps = (value: unknown): unknown => (value instanceof Map ? [...value.entries()].sort() : value);
  const settings = {
    serverName: setup.synapse.serverName,
    providers: setup.providers,
    links: setup.links ?? null,
    fileLinks: setup.fileLinks?.byUser ?? null,
    synapseProviders: synapseAuthProviders(setup.synapse).sort(),
    skipInvalidRows: setup.skipInvalidRows,
  };
  return createHash("sha256")
    .update(JSON.stringify(settings, (_key, value: unknown) => maps(value)))
    .digest("hex");
}

/** The MAS usernames of the local users among `userIds` (others have no MAS rows). */
function localUsernames(userIds: readonly string[], serverName: string): string[] {
  const names: string[] = [];
  for (const id of userIds) {
    const user = checkUserId(id, serverName);
    if (user.kind === "local") names.push(user.localpart);
  }
  return names;
}

/** Rows per table after a delta: before, less those deleted, plus those inserted. */
function countsAfter(
  before: Partial<Record<MasTableName, number>>,
  deleted: Partial<Record<MasTableName, number>>,
  inserted: Partial<Record<MasTableName, number>>,
): Partial<Record<MasTableName, number>> {
  const tables = new Set([...Object.keys(before), ...Object.keys(inserted)] as MasTableName[]);
  return Object.fromEntries([...tables].map((t) => [t, (before[t] ?? 0) - (deleted[t] ?? 0) + (inserted[t] ?? 0)])) as Partial<
    Record<MasTableName, number>
  >;
}

/** What a delta's destination is given, and what it fills in. */
interface StagedDelta {
  reread: Promise<string[]>;
  serverName: string;
  /** Filled by the delta: the stage rows deleted and inserted per table. */
  deleted: Partial<Record<MasTableName, number>>;
  inserted: Partial<Record<MasTableName, number>>;
  /** Counts the re-read users' rows on the snapshot's other connections ... */
  countRows?: (users: readonly string[]) => Promise<UserRowCounts[]>;
  /** ... started once the checks have passed, beside the load and the apply; saved last. */
  counts?: Promise<UserRowCounts[]>;
}

/**
 * The stage as a destination, once the checks have passed (and taken the migration lock). Filled
 * from scratch: the stage made (or made again), then migrate's own load (the stage's indexes
 * dropped and rebuilt around it). A delta: the changed users' rows loaded into tables of their
 * own, then the stage's rows of those users made equal to them (target/stage.ts applyChangedRows).
 */
function stageDestination(
  tx: TxClient,
  options: {
    dryRun: boolean;
    cutOver: boolean;
    delta: StagedDelta | undefined;
    /** Makes the stage afresh (a full run). */
    create: () => Promise<void>;
  },
): RowDestination {
  const full = copyInto(tx, options.dryRun);
  return {
    stopsWhenBlocked: true,
    writesMas: true,
    // Only the cut-over must find Synapse stopped: a prepare runs beside it.
    realRun: options.cutOver && !options.dryRun,
    receive: async (stream, optionalColumns, report) => {
      const delta = options.delta;
      if (delta === undefined) {
        // Made before the stage is searched first: its definitions are MAS's, not an older stage's.
        await options.create();
        return inStage(tx, () => full.receive(stream, optionalColumns, report));
      }
      if (delta.countRows) {
        delta.counts = delta.reread.then(delta.countRows);
        delta.counts.catch(() => undefined); // awaited after the apply; not unhandled if the load fails first
      }
      return inStage(tx, async () => {
        await createChangedRowsTables(tx);
        await loadThroughCopy(tx, optionalColumns, stream, changedRowsTable);
        const usernames = localUsernames(await delta.reread, delta.serverName);
        const applied = await timedStep(report.report, "apply_changed_rows", () => applyChangedRows(tx, usernames));
        Object.assign(delta.deleted, applied.deleted);
        Object.assign(delta.inserted, applied.inserted);
      });
    },
  };
}

/**
 * The cut-over proper: the stage moved into MAS's tables and the migration recorded, as an
 * offline migrate records it. Returns the foreign keys to validate.
 */
async function cutOver(
  tx: TxClient,
  report: MigrationReport,
  run: { now: number; counts: Partial<Record<MasTableName, number>>; synapseMarks: SynapseMarks },
): Promise<ForeignKey[]> {
  const keys = await timedStep(report, "move_stage", () => moveStageIntoMas(tx));
  await writeMigrationRecord(tx, {
    toolVersion: TOOL_VERSION,
    runStartedAt: run.now,
    counts: run.counts as Record<string, number>,
    synapseMarks: run.synapseMarks,
  });
  return keys;
}

/**
 * One staged run inside the MAS transaction `tx`: brings the stage up to date (made afresh when
 * there is none, or it was made under other settings, another MAS schema or another version), and
 * for a cut-over moves it into MAS's tables and records the migration. The caller commits.
 */
export async function stagedWithin(
  options: MigrateOptions & { cutOver: boolean },
  synapse: SynapseSide,
  tx: TxClient,
): Promise<{ value: MigrateOutcome; commit: boolean }> {
  const started = performance.now();
  const now = Date.now();
  const source = await synapse.openSource();
  try {
    if (source.changes === undefined) throw STAGE_NEEDS_POSTGRES;
    const readers = await synapse.openReaders();
    try {
      const setupDigest = stageSetupDigest(options);
      const schemaDigest = await masSchemaDigest(tx);
      const existing = await readStage(tx);
      // Spread over the snapshot's connections: the tables are scanned side by side.
      const changes = source.changes.over(readers);
      const reusable =
        existing !== null &&
        existing.setupDigest === setupDigest &&
        existing.schemaDigest === schemaDigest &&
        existing.toolVersion === TOOL_VERSION &&
        existing.mark !== null &&
        (await changes.markComparable(existing.mark));
      const mark = await changes.mark();
      const stage = reusable ? existing : null;
      const seed = stage?.seed ?? randomBytes(8);
      // Found first: the checks of the rows then look at these users' alone (CheckContext.onlyUsers).
      let findSeconds = 0;
      const rereading =
        stage === null
          ? undefined
          : usersToReread(tx, changes, stage, now).then((users) => {
              findSeconds = (performance.now() - started) / 1000;
              return users;
            });
      rereading?.catch(() => undefined); // handled where awaited; not unhandled if the checks fail first
      const create = () =>
        createStage(tx, { seed, createdAt: now, updatedAt: now, setupDigest, schemaDigest, toolVersion: TOOL_VERSION });
      const delta: StagedDelta | undefined =
        rereading === undefined
          ? undefined
          : {
              reread: rereading,
              serverName: options.synapse.serverName,
              deleted: {},
              inserted: {},
              // Beside the load on the snapshot's other connections (none: after the load, on the main one).
              ...(readers.extra > 0 ? { countRows: (users: readonly string[]) => changes.rowCountsOf(users) } : {}),
            };
      const timeDependent = new Set<string>();
      // A cut-over of a prepared stage: what cannot block is not computed again (see CheckedRun.checks).
      const advisorySkipped = options.cutOver && stage !== null && !options.policy.strict;
      const { findings, blocked, report } = await checkThenStream({
        setup: options,
        readers,
        source,
        masDb: tx,
        destination: stageDestination(tx, { dryRun: options.dryRun, cutOver: options.cutOver, delta, create }),
        dryRun: options.dryRun,
        progress: options.progress,
        now,
        staged: { seed, only: rereading, timeDependent },
        checks: advisorySkipped ? "blocking" : "all",
      });
      if (blocked || report === null) {
        await rereading?.catch(() => undefined); // its queries end before the connections do
        return { value: { status: "blocked", findings }, commit: false };
      }
      const reread = await rereading;
      // From the run's start: the checks wait for it.
      if (reread) report.phases.unshift({ name: "find_changed_users", sourceRows: reread.length, seconds: findSeconds });
      const tables = changes.tables.length;
      if (reread === undefined) await saveAllUserRows(tx, changes.rowCounts(), tables, timeDependent);
      else await saveChangedUserRows(tx, reread, await (delta?.counts ?? changes.rowCountsOf(reread)), tables, timeDependent);
      const counts =
        stage === null || delta === undefined ? report.written : countsAfter(stage.counts, delta.deleted, delta.inserted);
      const synapseMarks = await readSynapseMarks(readers);
      const summary: StageSummary = {
        cutOver: options.cutOver,
        mode: stage === null ? "full" : "delta",
        usersReread: reread?.length ?? null,
        advisorySkipped,
        createdAt: new Date(stage?.createdAt ?? now).toISOString(),
      };
      const finished: MigrationReport = { ...report, written: counts, stage: summary };
      const value: MigrateOutcome = { status: "done", findings, report: finished };
      if (options.cutOver) {
        const keys = await cutOver(tx, finished, { now, counts, synapseMarks });
        // The rehearsal checks every row now, in the transaction it rolls back; a real one once committed.
        if (options.dryRun) for (const key of keys) await validateForeignKey(tx, key);
        else value.foreignKeysToValidate = keys;
      } else {
        await saveStageProgress(tx, { updatedAt: now, counts, synapseMarks, mark });
      }
      finished.totalSeconds = (performance.now() - started) / 1000;
      return { value, commit: !options.dryRun };
    } finally {
      await readers.close();
    }
  } finally {
    await source.close();
  }
}
