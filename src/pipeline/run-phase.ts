/** One phase: stream a Synapse read through its mapper into a sink (the MAS tables, or a counter), counting as it goes. */
import type { MappingContext } from "../mapping/context.ts";
import type { ReportBuilder } from "../report/report.ts";
import type { SynapseSource, UserSubset } from "../source/source.ts";
import type { PhaseSink, RowSink } from "../target/sink.ts";
import type { Phase } from "./phases.ts";
import { UPDATE_INTERVAL_MS, type ProgressListener } from "./progress.ts";

/** What every phase of one run shares. */
export interface PhaseRun {
  source: SynapseSource;
  /** Where the mapped rows go: `migrate`'s COPY loader, or `check`'s counter. */
  sink: RowSink;
  ctx: MappingContext;
  report: ReportBuilder;
  progress?: ProgressListener | undefined;
  /** A staged run: the rows of these Synapse users alone (undefined: every row). */
  only?: UserSubset;
  /** A staged run: gains each user whose rows took the run's time for a time Synapse lacks (re-mapped at every run). */
  timeDependent?: Set<string> | undefined;
}

/**
 * `ctx` with a trap on {@link MappingContext.startedAt}: `used()` tells whether the row mapped
 * since the last call read it (its rows then carry this run's time). `now` keeps the time apart.
 */
function timeTracking(ctx: MappingContext): { ctx: MappingContext; used(): boolean } {
  let used = false;
  const startedAt = ctx.startedAt;
  const tracked: MappingContext = {
    ...ctx,
    now: ctx.now ?? startedAt,
    get startedAt() {
      used = true;
      return startedAt;
    },
  };
  return {
    ctx: tracked,
    used() {
      const was = used;
      used = false;
      return was;
    },
  };
}

/**
 * Runs `phase`, handing its rows to the sink; returns the number of Synapse rows read.
 * The phase's time covers reading and mapping; loading overlaps with the next phases.
 */
export async function runPhase(phase: Phase, run: PhaseRun): Promise<number> {
  const { source, sink, report, progress, timeDependent } = run;
  const tracking = timeDependent === undefined ? undefined : timeTracking(run.ctx);
  const ctx = tracking?.ctx ?? run.ctx;
  const startedAt = performance.now();
  progress?.phaseStart(phase.name, phase.total ? await phase.total(source) : undefined);
  const rows = phase.tables.length > 0 ? sink.openPhase(phase.tables) : undefined;
  let sourceRows = 0;
  let lastUpdate = startedAt;
  try {
    for await (const batch of phase.read(source, run.only)) {
      for (const row of batch) {
        const result = phase.map(row, ctx);
        if (tracking?.used()) timeDependent?.add(phase.userOf(row));
        report.tally(result);
        if (result.rows.length > 0) {
          const flushing = (rows as PhaseSink).add(result.rows);
          if (flushing !== undefined) await flushing;
        }
      }
      sourceRows += batch.length;
      if (progress && performance.now() - lastUpdate >= UPDATE_INTERVAL_MS) {
        lastUpdate = performance.now();
        progress.update(phase.name, sourceRows, startedAt);
      }
    }
  } catch (error) {
    rows?.discard();
    throw error;
  }
  if (rows !== undefined) {
    for (const [table, written] of await rows.finish()) report.addWritten(table, written);
  }
  const seconds = (performance.now() - startedAt) / 1000;
  report.addPhase({ name: phase.name, sourceRows, seconds });
  progress?.phaseEnd(phase.name, sourceRows, seconds);
  return sourceRows;
}
