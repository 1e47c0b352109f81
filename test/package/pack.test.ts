/**
 * The package as an operator gets it: `npm pack`'s tarball holds only what runs, and installed into
 * an empty folder (without devDependencies, and without the optional sqlite3, as on a machine with
 * no C compiler) its `syn2mas` checks and migrates the fixture, and says what SQLite needs.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { run } from "../harness/exec.ts";
import { synapseSqliteDb } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { writeSqliteSynapseConfig } from "../harness/sqlite.ts";
import type { FindingJson } from "../../src/cli/render.ts";
import { SQLITE_DRIVER_HINT } from "../../src/source/sqlite/driver.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The environment without `npm run`'s npm_* settings, so that the child npm sees only its own flags. */
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));

/** How a run of the installed `syn2mas` ended. */
interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the installed `syn2mas` (the package's bin link, through its `#!/usr/bin/env node` line) without PG* variables. */
function runInstalled(bin: string, args: string[]): Promise<Ended> {
  const env = Object.fromEntries(Object.entries(npmEnv).filter(([k]) => !k.startsWith("PG") && k !== "MAS_CONFIG"));
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the npm package", () => {
  let cluster: Cluster;
  let packed: string[];
  let bin: string;

  before(async () => {
    const dir = scratchDir("syn2mas-pack-");
    // The suite built dist/ first (npm test); --ignore-scripts packs that build instead of making another.
    const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
      cwd: root,
      env: npmEnv,
      timeoutMs: 60_000,
    });
    const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const tarball = join(dir, info!.filename);
    packed = info!.files.map((f) => f.path).sort();
    const installDir = join(dir, "install");
    mkdirSync(installDir);
    writeFileSync(join(installDir, "package.json"), '{ "private": true }\n');
    // --omit=optional: no sqlite3, as where it cannot be built (and building it takes minutes).
    // --prefer-offline: the tarballs come from npm's cache, which npm ci filled; only package metadata may be fetched.
    await run("npm", ["install", tarball, "--omit=dev", "--omit=optional", "--prefer-offline", "--no-audit", "--no-fund"], {
      cwd: installDir,
      env: npmEnv,
      timeoutMs: 120_000,
    });
    bin = join(installDir, "node_modules", ".bin", "syn2mas");
    cluster = await startCluster();
  });
  after(async () => cluster?.stop());

  it("holds the compiled JavaScript, package.json and README, and no test, TypeScript source, source map or fixture", () => {
    assert.ok(packed.includes("dist/cli/main.js"));
    assert.ok(packed.includes("package.json"));
    assert.ok(packed.includes("README.md"));
    const others = packed.filter((p) => !/^dist\/[\w/-]+\.js$/.test(p) && !["package.json", "README.md", "LICENSE"].includes(p));
    assert.deepEqual(others, []);
    assert.deepEqual(
      packed.filter((p) => /\.test\.js$|^dist\/(test|bench|scripts)\//.test(p)),
      [],
    );
    // sqlite3 is optional: nothing packed imports it up front.
    const eager = packed.filter(
      (p) => p.endsWith(".js") && /\bfrom "sqlite3"|require\("sqlite3"\)/.test(readFileSync(join(root, p), "utf8")),
    );
    assert.deepEqual(eager, []);
  });

  it("syn2mas --help: exit 0 and the usage", async () => {
    const result = await runInstalled(bin, ["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: syn2mas <command> \[options\]/);
    assert.match(result.stdout, /\bcheck\b/);
    assert.match(result.stdout, /\bmigrate\b/);
  });

  it("check on the fixture: the same findings as the checkout's build, warnings only (exit 11)", async () => {
    const s = await prepareScenario(cluster, "packed_check", { synapseOverrides: GUESTS_OFF });
    const installed = await runInstalled(bin, ["check", ...s.configArgs, "--json"]);
    assert.equal(installed.code, 11, installed.stderr);
    const findings = (JSON.parse(installed.stdout) as { findings: FindingJson[] }).findings;
    assert.deepEqual(
      findings.filter((f) => f.severity === "error"),
      [],
    );
    assert.ok(
      findings.some((f) => f.code === "NON_EMAIL_THREEPIDS" && f.severity === "warning"),
      JSON.stringify(findings.map((f) => f.code)),
    );
    const fromCheckout = await runCli(["check", ...s.configArgs, "--json"]);
    assert.deepEqual(findings, (JSON.parse(fromCheckout.stdout) as { findings: FindingJson[] }).findings);
  });

  it("migrate on the fixture: the users are in MAS, a second run is refused", async () => {
    const s = await prepareScenario(cluster, "packed_migrate", { synapseOverrides: GUESTS_OFF });
    const first = await runInstalled(bin, ["migrate", ...s.configArgs, "--accept-all-warnings"]);
    assert.equal(first.code, 0, first.stderr);
    const usernames = (db: string) =>
      cluster.sql<{ username: string; can_request_admin: boolean }>(
        db,
        "SELECT username, can_request_admin FROM users ORDER BY username",
      );
    const migrated = await usernames(s.masDb);
    assert.ok(migrated.some((u) => u.username === "admin" && u.can_request_admin));
    assert.ok(migrated.some((u) => u.username === "user0001" && !u.can_request_admin));
    // The same users as the checkout's build migrates from the same data.
    const t = await prepareScenario(cluster, "packed_migrate_checkout", { synapseOverrides: GUESTS_OFF });
    assert.equal((await runCli(["migrate", ...t.configArgs, "--accept-all-warnings"])).code, 0);
    assert.deepEqual(migrated, await usernames(t.masDb));
    const second = await runInstalled(bin, ["migrate", ...s.configArgs, "--accept-all-warnings"]);
    assert.equal(second.code, 10, "blocked: MAS holds the migration");
    assert.match(second.stderr, /ALREADY_MIGRATED/);
    assert.deepEqual(await usernames(s.masDb), migrated);
  });

  it("a SQLite Synapse without the optional sqlite3: exit 1, one line saying what SQLite needs and how to get it", async () => {
    const s = await prepareScenario(cluster, "packed_sqlite");
    const synapseConfig = await writeSqliteSynapseConfig(s.dir, synapseSqliteDb, GUESTS_OFF);
    const result = await runInstalled(bin, ["check", "--config", s.masConfig, "--synapse-config", synapseConfig]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      "syn2mas: error: Synapse's SQLite database needs the optional sqlite3 module, which is not installed " +
        "(it builds from C sources when no prebuilt binary fits this machine) " +
        `(fix: ${SQLITE_DRIVER_HINT})\n`,
    );
    assert.equal(result.stdout, "");
  });
});
