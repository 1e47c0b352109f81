/** Progress a person watching a long run wants: a live bar per phase on a terminal, a log line every few seconds otherwise. */
import cliProgress from "cli-progress";
import type { ProgressListener } from "../pipeline/progress.ts";

/** Seconds between log lines when stderr is not a terminal (CI, Kubernetes jobs). */
const LOG_INTERVAL_MS = 5000;

/** Below this much elapsed time (or before the first row) a rate is noise, so none is shown. */
const MIN_RATE_SECONDS = 1;

/** A duration for an ETA: `45 s`, `3 min 05 s`, `2 h 07 min`. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/**
 * The speed part of a progress line for `rows` of `total` (undefined: unknown) after `seconds`:
 * the rate and, with a total, the time left. Nothing to do says so; before the first row or the first
 * second it says "starting" rather than a rate of 0 or an ETA it cannot know.
 */
export function speedText(rows: number, total: number | undefined, seconds: number): string {
  if (total === 0) return "nothing to copy";
  if (rows === 0 || seconds < MIN_RATE_SECONDS) return "starting";
  const perSecond = rows / seconds;
  const rate = `${Math.round(perSecond).toLocaleString("en-US")} rows/s`;
  if (total === undefined || rows >= total) return rate;
  return `${rate}, ETA ${formatEta((total - rows) / perSecond)}`;
}

const elapsed = (startedAt: number): number => (performance.now() - startedAt) / 1000;

/** Live bars (TTY) or periodic lines, written to `stream`. */
export function progressRenderer(stream: NodeJS.WriteStream = process.stderr): ProgressListener {
  return stream.isTTY ? barRenderer(stream) : lineRenderer(stream);
}

function barRenderer(stream: NodeJS.WriteStream): ProgressListener {
  let bar: cliProgress.SingleBar | undefined;
  let total: number | undefined;
  return {
    phaseStart(phase, phaseTotal) {
      total = phaseTotal;
      // The rate and ETA come from speedText: cli-progress's own {eta_formatted} prints "LLs" for an unknown ETA.
      const counts = total === undefined ? "{value} rows" : "{bar} {value}/{total} rows";
      bar = new cliProgress.SingleBar(
        { stream, format: `${phase.padEnd(24)} ${counts}  {speed}`, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total ?? 0, 0, { speed: speedText(0, total, 0) });
    },
    update(_phase, rows, startedAt) {
      bar?.update(rows, { speed: speedText(rows, total, elapsed(startedAt)) });
    },
    phaseEnd(_phase, rows, seconds) {
      bar?.setTotal(rows);
      bar?.update(rows, { speed: `done in ${seconds.toFixed(2)} s` });
      bar?.stop();
      bar = undefined;
    },
  };
}

function lineRenderer(stream: NodeJS.WriteStream): ProgressListener {
  let lastLog = 0;
  let total: number | undefined;
  return {
    phaseStart(phase, phaseTotal) {
      total = phaseTotal;
      lastLog = performance.now();
      stream.write(`${phase}: started${total !== undefined ? ` (${total} rows)` : ""}\n`);
    },
    update(phase, rows, startedAt) {
      const now = performance.now();
      if (now - lastLog < LOG_INTERVAL_MS) return;
      lastLog = now;
      stream.write(
        `${phase}: ${rows}${total !== undefined ? `/${total}` : ""} rows (${speedText(rows, total, elapsed(startedAt))})\n`,
      );
    },
    phaseEnd(phase, rows, seconds) {
      stream.write(`${phase}: ${rows} rows in ${seconds.toFixed(2)} s\n`);
    },
  };
}
