/**
 * The one order of a run, `check` and `migrate` alike: the checks that can block; then Synapse's
 * rows streamed through the mappers into a sink (migrate's COPY loader, check's counter) while
 * the other findings run beside them; then those findings; then the warning policy, once.
 */
import type pg from "pg";
import type { CheckContext } from "../checks/context.ts";
import type { Finding } from "../checks/finding.ts";
import { runAdvisoryChecks, runBlockingChecks, runReadabilityChecks } from "../checks/preconditions.ts";
import { judge } from "../checks/policy.ts";
import type { MappingContext } from "../mapping/context.ts";
import { ReportBuilder, type MigrationReport } from "../report/report.ts";
import type { SnapshotReaders } from "../source/snapshot-readers.ts";
import type { SynapseSource, UserSubset } from "../source/source.ts";
import type { RowSink } from "../target/sink.ts";
import type { RunSetup } from "./connections.ts";
import { PHASES } from "./phases.ts";
import type { ProgressListener } from "./progress.ts";
import { runIdDeriver } from "./run-ids.ts";
import { runPhase } from "./run-phase.ts";

/** Where a run's mapped rows go, and what surrounds their streaming. */
export interface RowDestination {
  /**
   * A finding that blocks stops the run before any row is read: `migrate`'s (nothing is written).
   * `check` reads the rows anyway, to count what would be skipped, whenever Synapse's schema is readable.
   */
  stopsWhenBlocked: boolean;
  /** Writes to MAS (`migrate`, even a dry run): the checks then take the migration lock. */
  writesMas: boolean;
  /** A real migration (not a dry run, not `check`): Synapse must not be running. */
  realRun: boolean;
  /**
   * Runs `stream`, which sends every phase's rows into the sink given to it, with what must
   * surround it (migrate: the indexes dropped before and rebuilt after, the loader drained).
   */
  receive(stream: (sink: RowSink) => Promise<void>, optionalColumns: ReadonlySet<string>, report: ReportBuilder): Promise<void>;
}

export interface CheckedRun {
  setup: RunSetup;
  /** The checks' readers and the source, in one Synapse snapshot. */
  readers: SnapshotReaders;
  source: SynapseSource;
  /** MAS, inside the run's transaction (read-only for `check`). */
  masDb: pg.ClientBase;
  destination: RowDestination;
  /** Marks the report (a dry run's, or check's). */
  dryRun: boolean;
  progress?: ProgressListener | undefined;
  /** The run's "now" in ms (default: when it starts); `verify` judges as of the migration's. */
  now?: number | undefined;
  /**
   * Which checks run: all of them (`check`, `migrate`), only whether Synapse can be read
   * (`verify`: the migration it verifies passed them, and it reports none), or only those that can
   * block (a cut-over without --strict: the warnings and information about Synapse's data, which
   * scan every row, cannot stop it, and the last prepare reported them).
   */
  checks?: "all" | "readability" | "blocking";
  /** A staged run: the stage's id seed, the users whose rows are read, and who gains the time-dependent ones. */
  staged?: StagedRead;
}

/** What a staged run (prepare, or a cut-over) reads differently. */
export interface StagedRead {
  /** The stage's seed: every run of one stage derives the same ids. */
  seed: Buffer;
  /** Only these users' rows (undefined: all of them, a first prepare). */
  only: UserSubset | Promise<UserSubset>;
  /** Gains the users whose rows took the run's time for a time Synapse lacks. */
  timeDependent: Set<string>;
}

export interface CheckedRunOutcome {
  /** Every finding, in report order, the policy applied. */
  findings: Finding[];
  /** A finding stops `migrate` (then nothing may be committed). */
  blocked: boolean;
  /** What the streamed rows made; null when none were read (blocked first, or Synapse's schema unreadable). */
  report: MigrationReport | null;
}

/** Synapse's rows can be read: its schema is one the readers know. */
function schemaReadable(findings: readonly Finding[]): boolean {
  return !findings.some((f) => f.code === "SYNAPSE_SCHEMA_UNSUPPORTED" || f.code === "UNSUPPORTED_DATABASE");
}

/**
 * Checks, then streams every row through the mappers into the destination's sink. Errors are
 * known before any row is read. With --strict, every check runs up front; without it, the
 * warnings and information about Synapse's data (they scan every table, and cannot block) run on
 * the snapshot's extra connections while the main one streams the rows, and join the findings at
 * the end. `blocked` covers them all, so that nothing a check blocks is ever committed.
 */
export async function checkThenStream(run: CheckedRun): Promise<CheckedRunOutcome> {
  const { setup, readers, destination } = run;
  // The run's "now", fixed before the checks: they judge ended sessions at the same time as the mappers.
  const now = run.now ?? Date.now();
  const input: CheckContext = {
    ...setup,
    synapseDb: readers,
    ownSynapsePids: readers.pids,
    masDb: run.masDb,
    realRun: destination.realRun,
    writesMas: destination.writesMas,
    now,
  };
  // 1. The checks that can block.
  // A staged delta checks the rows of the users it reads again (found first: a scan of every row
  // beside them cost more than both on two cores, measured).
  const only = await run.staged?.only;
  if (only !== undefined) input.onlyUsers = only;
  const blocking = run.checks === "readability" ? await runReadabilityChecks(input) : await runBlockingChecks(input);
  if (run.checks === "blocking") blocking.advisoryApplies = false;
  // 2. The advisory ones: up front with --strict (or with no extra connection), else beside the rows.
  const beside = !setup.policy.strict && readers.extra > 0;
  let advisory: Promise<Finding[]> = Promise.resolve([]);
  if (blocking.advisoryApplies && !beside) advisory = Promise.resolve(await runAdvisoryChecks(input));
  // The main connection streams the rows: whatever runs beside them (the advisory checks, a staged
  // delta's counts) keeps to the others.
  if (readers.extra > 0) await readers.detachMain();
  if (blocking.advisoryApplies && beside) {
    advisory = runAdvisoryChecks(input);
    // Handled now: if the run fails first (an error elsewhere), this failure is not left unhandled.
    advisory.catch(() => undefined);
  }
  // 3. The rows, through the mappers into the sink: not at all for migrate when a finding blocks.
  const streams = destination.stopsWhenBlocked
    ? !judge(blocking.findings, setup.policy).blocks
    : schemaReadable(blocking.findings);
  let report: ReportBuilder | undefined;
  if (streams) {
    report = new ReportBuilder(run.dryRun);
    const ctx: MappingContext = {
      serverName: setup.synapse.serverName,
      startedAt: now,
      providers: setup.providers,
      ...(setup.links ? { links: setup.links } : {}),
      ...(setup.fileLinks ? { fileLinks: setup.fileLinks } : {}),
      deriveId: runIdDeriver(run.staged?.seed),
    };
    const phaseRun = {
      source: run.source,
      ctx,
      report,
      progress: run.progress,
      timeDependent: run.staged?.timeDependent,
    };
    await destination.receive(
      async (sink) => {
        for (const phase of PHASES) await runPhase(phase, { ...phaseRun, sink, only });
      },
      blocking.presentOptionalColumns,
      report,
    );
  }
  // 4. Every finding, in report order, and the policy, once.
  const { findings, blocks } = judge([...blocking.findings, ...(await advisory)], setup.policy);
  return { findings, blocked: blocks, report: report?.report ?? null };
}
