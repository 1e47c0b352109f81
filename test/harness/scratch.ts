/** Temporary directories for tests, removed when the test process exits (each test file is one process). */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];
process.on("exit", () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new private directory under the system's temporary directory, named `prefix` + random. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Writes `files` (name → text) into a new scratch directory and returns their paths in the given order. */
export function writeScratchFiles(prefix: string, files: Record<string, string>): string[] {
  const dir = scratchDir(prefix);
  return Object.entries(files).map(([name, text]) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  });
}
