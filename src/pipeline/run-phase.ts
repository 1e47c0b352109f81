/** One phase: stream a Synapse read through its mapper into the MAS tables, counting as it goes. */
import type { MappingContext } from "../mapping/context.ts";
import type { ReportBuilder } from "../report/report.ts";
import type { SynapseSource } from "../source/source.ts";
import type { ChunkLoader } from "../target/loader.ts";
import { PhaseWriter } from "../target/writer.ts";
import type { Phase } from "./phases.ts";
import { UPDATE_INTERVAL_MS, type ProgressListener } from "./progress.ts";

/** What every phase of one migration shares. */
export interface PhaseRun {
  source: SynapseSource;
  loader: ChunkLoader;
  ctx: MappingContext;
  /** Optional MAS columns present in the target. */
  optionalColumns: ReadonlySet<string>;
  report: ReportBuilder;
  progress?: ProgressListener | undefined;
}

/**
 * Runs `phase`, handing its rows to the loader in chunks; returns the number of Synapse rows read.
 * The phase's time covers reading and mapping; loading overlaps with the next phases.
 */
export async function runPhase(phase: Phase, run: PhaseRun): Promise<number> {
  const { source, loader, ctx, optionalColumns, report, progress } = run;
  const startedAt = performance.now();
  progress?.phaseStart(phase.name, phase.total ? await phase.total(source) : undefined);
  const writer = phase.tables.length > 0 ? new PhaseWriter(phase.tables, optionalColumns, loader) : undefined;
  let sourceRows = 0;
  let lastUpdate = startedAt;
  try {
    for await (const batch of phase.read(source)) {
      for (const row of batch) {
        const result = phase.map(row, ctx);
        report.tally(result);
        if (result.rows.length > 0) {
          const flushing = (writer as PhaseWriter).add(result.rows);
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
    writer?.discard();
    throw error;
  }
  if (writer !== undefined) {
    for (const [table, rows] of await writer.finish()) report.addWritten(table, rows);
  }
  const seconds = (performance.now() - startedAt) / 1000;
  report.addPhase({ name: phase.name, sourceRows, seconds });
  progress?.phaseEnd(phase.name, sourceRows, seconds);
  return sourceRows;
}
