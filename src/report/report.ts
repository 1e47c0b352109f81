/** The migration report: rows written per MAS table, rows skipped per entity and reason, notes, phase times. */
import type { MasTableName } from "../model/mas.ts";
import type { Entity, MappingResult, NoteKind, SkipReason } from "../mapping/skip.ts";

export interface PhaseTiming {
  name: string;
  /** Synapse rows read in this phase (a device with its tokens counts once). */
  sourceRows: number;
  seconds: number;
}

/** How a staged run (prepare, or a migrate with a stage) went. */
export interface StageSummary {
  /** A cut-over (the stage moved into MAS's tables), or a prepare (the stage brought up to date). */
  cutOver: boolean;
  /** `full`: the stage was filled from scratch; `delta`: only the users in `usersReread` were read again. */
  mode: "full" | "delta";
  /** Synapse users whose rows were read again (a delta); null when every row was read. */
  usersReread: number | null;
  /**
   * A cut-over did not compute the warnings and information about Synapse's data again (they
   * cannot block it without --strict, and the last prepare reported them).
   */
  advisorySkipped: boolean;
  /** When the stage was first prepared (ISO 8601). */
  createdAt: string;
}

/** Everything a finished (or rehearsed) migration reports. Holds counts only: no ids, tokens or hashes. */
export interface MigrationReport {
  dryRun: boolean;
  written: Partial<Record<MasTableName, number>>;
  skipped: Partial<Record<Entity, Partial<Record<SkipReason, number>>>>;
  notes: Partial<Record<Entity, Partial<Record<NoteKind, number>>>>;
  /** `upstream_oauth_links` rows by SOURCE: an `auth_provider`, `localpart` or `link-file`. */
  links: Record<string, number>;
  phases: PhaseTiming[];
  totalSeconds: number;
  /**
   * A staged run: `written` is then every row of the stage (or of MAS after a cut-over), and
   * `skipped` and `notes` count the rows read in this run alone.
   */
  stage?: StageSummary;
}

/** Runs `work` and adds its wall time to `report`'s phases as `name` (a step that reads no Synapse row). */
export async function timedStep<T>(report: Pick<MigrationReport, "phases">, name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  report.phases.push({ name, sourceRows: 0, seconds: (performance.now() - started) / 1000 });
  return result;
}

/** Accumulates counts while the pipeline runs. */
export class ReportBuilder {
  readonly report: MigrationReport;

  constructor(dryRun: boolean) {
    this.report = { dryRun, written: {}, skipped: {}, notes: {}, links: {}, phases: [], totalSeconds: 0 };
  }

  /** Counts the skips and notes of one mapping result. */
  tally(result: MappingResult): void {
    for (const { entity, reason } of result.skips) {
      const byReason = (this.report.skipped[entity] ??= {});
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    }
    for (const source of result.linkSources ?? []) this.report.links[source] = (this.report.links[source] ?? 0) + 1;
    for (const { entity, note } of result.notes) {
      const byNote = (this.report.notes[entity] ??= {});
      byNote[note] = (byNote[note] ?? 0) + 1;
    }
  }

  addWritten(table: MasTableName, rows: number): void {
    this.report.written[table] = (this.report.written[table] ?? 0) + rows;
  }

  addPhase(timing: PhaseTiming): void {
    this.report.phases.push(timing);
  }
}
