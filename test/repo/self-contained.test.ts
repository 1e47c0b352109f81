/** The repository carries everything its tests, demo and bench read: no tracked file points outside it. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Files git tracks (the test runs in a clone, so git is there). */
function trackedFiles(): string[] {
  const result = spawnSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split("\0").filter((f) => f !== "");
}

describe("the repository is self-contained", () => {
  it("no tracked text file names the steering folder beside the checkout", () => {
    const offenders = trackedFiles()
      .filter((f) => !f.startsWith("test/fixtures/synapse/") && !f.endsWith(".db") && !f.endsWith("package-lock.json"))
      .filter((f) => existsSync(join(root, f)) && /\.\.\/shared\b/.test(readFileSync(join(root, f), "utf8")));
    assert.deepEqual(offenders, []);
  });

  it("carries the fixtures and the spec the tests read", () => {
    const files = new Set(trackedFiles());
    for (const f of [
      "test/fixtures/README.md",
      "test/fixtures/synapse/synapse-1.160-small.sql",
      "test/fixtures/synapse/synapse-1.160-sqlite-small.db",
      "test/fixtures/mas/mas-v1.22.0-empty.sql",
      "test/fixtures/mas/mas-v1.0.0-empty.sql",
      "docs/spec/checks.md",
      "docs/spec/migration.md",
    ]) {
      assert.ok(files.has(f), `${f} is tracked`);
    }
  });
});
