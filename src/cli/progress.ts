/** Progress a person watching a long run wants: a live bar per phase on a terminal, a log line every few seconds otherwise. */
import cliProgress from "cli-progress";
import type { ProgressListener } from "../pipeline/progress.ts";

/** Seconds between log lines when stderr is not a terminal (CI, Kubernetes jobs). */
const LOG_INTERVAL_MS = 5000;

function rate(rows: number, startedAt: number): number {
  const seconds = (performance.now() - startedAt) / 1000;
  return seconds > 0 ? rows / seconds : 0;
}

/** Live bars (TTY) or periodic lines, written to `stream`. */
export function progressRenderer(stream: NodeJS.WriteStream = process.stderr): ProgressListener {
  return stream.isTTY ? barRenderer(stream) : lineRenderer(stream);
}

function barRenderer(stream: NodeJS.WriteStream): ProgressListener {
  let bar: cliProgress.SingleBar | undefined;
  return {
    phaseStart(phase, total) {
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${phase.padEnd(24)} {bar} {value}/{total} rows  {rate} rows/s  ETA {eta_formatted}`,
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total ?? 0, 0, { rate: 0 });
    },
    update(_phase, rows, startedAt) {
      bar?.update(rows, { rate: Math.round(rate(rows, startedAt)) });
    },
    phaseEnd(_phase, rows) {
      bar?.setTotal(rows);
      bar?.update(rows);
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
      const perSecond = rate(rows, startedAt);
      const eta = total !== undefined && perSecond > 0 ? `, ETA ${Math.ceil((total - rows) / perSecond)} s` : "";
      stream.write(`${phase}: ${rows}${total !== undefined ? `/${total}` : ""} rows (${Math.round(perSecond)} rows/s${eta})\n`);
    },
    phaseEnd(phase, rows, seconds) {
      stream.write(`${phase}: ${rows} rows in ${seconds.toFixed(2)} s\n`);
    },
  };
}
