/** Small child-process helpers for the test harness: run a command to completion, find one on PATH. */

import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Options for {@link run}. */
export interface RunOptions {
  /** Environment of the child; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Working directory of the child. */
  cwd?: string;
  /** Kill the child (SIGKILL) and fail after this many milliseconds. */
  timeoutMs?: number;
}

/** What a successful {@link run} printed. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs `command args...` without a shell and resolves with its output once it exits with status 0.
 * Rejects with an error naming the command and quoting the end of its stderr otherwise
 * (including when the program does not exist).
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    const finish = (): void => {
      if (timer !== undefined) clearTimeout(timer);
    };
    child.on("error", (error) => {
      finish();
      reject(new Error(`could not run ${command}: ${error.message}`, { cause: error }));
    });
    child.on("close", (code, signal) => {
      finish();
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const status = signal === null ? `exit status ${code}` : `signal ${signal}`;
      reject(new Error(`${describeCommand(command, args)} failed (${status}):\n${tail(stderr || stdout)}`));
    });
  });
}

/** Absolute path of an executable named `name` on `PATH`, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Whether `path` exists and may be executed by this process. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function describeCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : shellQuote(word))).join(" ");
}

function tail(text: string, maxLines = 30): string {
  const lines = text.trimEnd().split("\n");
  return lines.slice(-maxLines).join("\n");
}
