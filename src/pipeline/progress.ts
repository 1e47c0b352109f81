/** Progress events of a migration; rendering lives in cli/. */

/** Told as phases start, advance and end. `update` is called at most a few times per second. */
export interface ProgressListener {
  phaseStart(phase: string, total: number | undefined): void;
  update(phase: string, rows: number, startedAt: number): void;
  phaseEnd(phase: string, rows: number, seconds: number): void;
}

/** How often (ms) the pipeline reports rows done while a phase runs. */
export const UPDATE_INTERVAL_MS = 200;
