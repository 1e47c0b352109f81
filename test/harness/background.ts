/** A CLI run in the background, for tests that act on it while it runs (terminate a connection, send a signal). */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The built CLI (the e2e tests run what `npm run build` made). */
export const cliPath: string = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

/** How a CLI run ended, with everything it printed. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A CLI run started in the background: its live stderr, and its result once it exits. */
export interface Background {
  child: ChildProcess;
  stderr(): string;
  done: Promise<CliResult>;
}

/** Every CLI process started here and still running, for a test file's `after` to kill. */
export const runningChildren = new Set<ChildProcess>();

/**
 * Starts the built CLI with `process.env` minus PG* variables and MAS_CONFIG, plus `env` (a variable
 * set to undefined there is left out), in `cwd` when given, with `input` on its standard input when given
 * (else none).
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string, input?: string): Background {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG") && k !== "MAS_CONFIG"));
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd,
    env: { ...base, ...env },
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (input !== undefined) child.stdin?.end(input);
  runningChildren.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      runningChildren.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, stderr: () => stderr, done };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 20 ms; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A CLI result for assertion messages. */
export function describeRun(result: CliResult): string {
  return `exit ${result.code}, signal ${result.signal}\nstderr:\n${result.stderr}\nstdout:\n${result.stdout}`;
}
