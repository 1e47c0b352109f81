/**
 * `npm run bench -- --users N [--source sqlite]`: a synthetic Synapse of N users, then in the same run
 *  - the limit: the same MAS rows made by SQL and piped table by table with COPY, in parallel,
 *    target indexes and constraints dropped before and rebuilt after (rebuild included);
 *  - the raw ingest limit: the same tables and row counts made by the simplest SQL (bench/raw-sql.ts),
 *    piped the same way into its own fresh copy of the MAS schema;
 *  - the tool: a real `syn2mas migrate` into a fresh copy of the MAS schema;
 *  - `syn2mas check` on the same databases, just before that migrate (what migrate would skip: the
 *    same reads and mappers, nothing written);
 *  - with `--source sqlite`, also the tool reading the same rows from a SQLite file (Synapse's
 *    SQLite schema) into another fresh copy, printed next to the PostgreSQL figure;
 * and prints the times, their ratio, rows per second and the tool's peak RSS.
 * With `--online --churn P`: the online migration instead (bench/online.ts).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { captureConstraints, runAll } from "../src/target/constraints.ts";
import { TABLE_ORDER, TABLES } from "../src/target/tables.ts";
import { masEmptySql, masProvidersSql, synapseSchemaSql } from "../test/harness/fixtures.ts";
import { startCluster, type Cluster } from "../test/harness/postgres.ts";
import { cliPath, GUESTS_OFF } from "../test/harness/scenario.ts";
import { writeMasConfig, writeSynapseConfig } from "../test/harness/temp-config.ts";
import { writeSqliteSynapseConfig } from "../test/harness/sqlite.ts";
import { limitQueries, type TableQueries } from "./limit-sql.ts";
import { benchOnline, onlineLines } from "./online.ts";
import { rawQueries } from "./raw-sql.ts";
import { sqliteCopyOf } from "./synthetic-sqlite.ts";
import { syntheticSynapseSql } from "./synthetic.ts";

/** Provider ids of test/fixtures/mas/mas-providers.sql, keyed by synapse_idp_id. */
const PROVIDERS = {
  "oidc-keycloak": "0196636f-c55d-6141-75ce-263d2231eaaf",
  "oidc-github": "01966371-d11c-2ec1-d3e8-55b61669b48c",
};

export interface BenchResult {
  users: number;
  limitSeconds: number;
  toolSeconds: number;
  ratio: number;
  rowsWritten: number;
  limitRowsPerSecond: number;
  /** The raw ingest limit: the limit's row counts made by the simplest SQL, piped the same way. */
  rawLimitSeconds: number;
  rawLimitRowsPerSecond: number;
  /** The tool's time over the raw ingest limit's. */
  rawRatio: number;
  /** Per table: equal to `limitRows` (the bench throws otherwise). */
  rawLimitRows: Record<string, number>;
  toolRowsPerSecond: number;
  toolPeakRssMb: number;
  /** `syn2mas check` on the same Synapse and the still empty MAS, its wall time and peak RSS. */
  checkSeconds: number;
  checkPeakRssMb: number;
  /**
   * CPU time the whole machine spent (every core, seconds) while the limit, the raw ingest limit and
   * the tool ran, and of it the tool's own process; with `cores`, what bounds each: none of them
   * can finish faster than its CPU time over the cores.
   */
  cpu: { cores: number; limitSeconds: number; rawLimitSeconds: number; toolSeconds: number; toolProcessSeconds: number };
  /** `syn2mas verify` right after that migrate (exit 0: every row equal), its wall time and peak RSS. */
  verifySeconds: number;
  verifyPeakRssMb: number;
  /**
   * Verify's own split (its JSON's \`seconds\`): counting unverifiable passwords; re-deriving the expected
   * rows with the comparisons that overlap it; each table's comparison.
   */
  verifySplit: { passwords: number; expectedAndCompared: number; compare: Record<string, number> };
  limitRows: Record<string, number>;
  toolRows: Record<string, number>;
  /** Per table, an md5 of every row's non-id columns in order: equal when both wrote the same rows. */
  limitFingerprints: Record<string, string>;
  toolFingerprints: Record<string, string>;
  /** With `source: "sqlite"`: the tool reading the same rows from a SQLite file. */
  sqlite?: {
    toolSeconds: number;
    toolPeakRssMb: number;
    /** The SQLite file's size. */
    fileMb: number;
    toolRows: Record<string, number>;
    toolFingerprints: Record<string, string>;
  };
}

/** Which database the tool reads Synapse from: PostgreSQL always, and SQLite too when asked. */
export type BenchSource = "postgres" | "sqlite";

async function client(cluster: Cluster, db: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: cluster.uri(db) });
  await c.connect();
  return c;
}

/** Runs `tasks` with at most `limit` at once. */
async function parallel(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  const queue = [...tasks];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let task = queue.shift(); task; task = queue.shift()) await task();
    }),
  );
}

/** The limit (and the raw ingest limit, with its `queries`): drop, pipe every table in parallel, rebuild. */
async function runLimit(
  cluster: Cluster,
  synapseDb: string,
  masDb: string,
  queries: TableQueries,
  connections: number,
): Promise<number> {
  const start = performance.now();
  const ddl = await client(cluster, masDb);
  const saved = await captureConstraints(ddl, TABLE_ORDER);
  await runAll(ddl, saved.drops);
  await parallel(
    Object.entries(queries).map(([table, q]) => async () => {
      const source = await client(cluster, synapseDb);
      const target = await client(cluster, masDb);
      try {
        await pipeline(
          source.query(copyTo(`COPY (${q.sql}) TO STDOUT`)),
          target.query(copyFrom(`COPY ${table} (${q.columns.join(", ")}) FROM STDIN`)),
        );
      } finally {
        await source.end();
        await target.end();
      }
    }),
    connections,
  );
  await runAll(ddl, saved.rebuilds);
  await ddl.end();
  return (performance.now() - start) / 1000;
}

/** CPU time the machine has spent on anything, every core (os.cpus counts milliseconds). */
function machineCpuSeconds(): number {
  return cpus().reduce((sum, { times: t }) => sum + t.user + t.nice + t.sys + t.irq, 0) / 1000;
}

/** Clock ticks per second of /proc's times. */
let clockTicks: number | undefined;

/**
 * CPU time of this process's children that have exited (Linux: cutime and cstime of
 * /proc/self/stat); NaN without /proc, as peakRssKb has no figure there either.
 */
function childrenCpuSeconds(): number {
  try {
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    // The fields after the command's closing parenthesis; cutime and cstime are the 16th and 17th overall.
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[13]) + Number(fields[14])) / clockTicks;
  } catch {
    return NaN;
  }
}

/** `work`'s result, with the machine's CPU time while it ran. */
async function withMachineCpu<T>(work: () => Promise<T>): Promise<{ value: T; cpuSeconds: number }> {
  const before = machineCpuSeconds();
  const value = await work();
  return { value, cpuSeconds: machineCpuSeconds() - before };
}

/** The peak resident set of a running process, from /proc (Linux). */
function peakRssKb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The tool: a real run (migrate, or check), timed, its peak RSS sampled until it exits with one of `exitCodes`. */
export async function runTool(
  args: string[],
  exitCodes: readonly number[] = [0],
): Promise<{
  seconds: number;
  peakRssMb: number;
  stderr: string;
  stdout: string;
  cpuSeconds: number;
  processCpuSeconds: number;
}> {
  const start = performance.now();
  const machineBefore = machineCpuSeconds();
  const childrenBefore = childrenCpuSeconds();
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let stdout = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.stdout.on("data", (d) => (stdout += d));
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, peakRssKb(child.pid as number) ?? 0)), 20);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearInterval(timer);
  if (code === null || !exitCodes.includes(code)) throw new Error(`syn2mas ${args[0]} exited ${code}:\n${stderr}`);
  return {
    seconds: (performance.now() - start) / 1000,
    peakRssMb: peak / 1024,
    stderr,
    stdout,
    cpuSeconds: machineCpuSeconds() - machineBefore,
    processCpuSeconds: childrenCpuSeconds() - childrenBefore,
  };
}

/** md5 over the sorted text of every row's columns other than ids (ids are random per run). */
export async function fingerprints(cluster: Cluster, db: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLE_ORDER) {
    const columns = TABLES[table].filter((c) => c.kind !== "uuid" && !c.optional).map((c) => `${c.name}::text`);
    const rows = await cluster.sql<{ h: string }>(
      db,
      `SELECT md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) AS h
         FROM (SELECT concat_ws(E'\\t', ${columns.map((c) => `coalesce(${c}, 'NULL')`).join(", ")}) AS r FROM ${table}) s`,
    );
    out[table] = rows[0]?.h ?? "";
  }
  return out;
}

async function countRows(cluster: Cluster, db: string): Promise<Record<string, number>> {
  const rows = await cluster.sql<{ t: string; n: number }>(
    db,
    TABLE_ORDER.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${t}`).join(" UNION ALL "),
  );
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

/** Copies the synthetic Synapse into a SQLite file (not timed), then times the tool reading it into a fresh MAS. */
async function runToolFromSqlite(
  cluster: Cluster,
  dir: string,
  log: (s: string) => void,
): Promise<NonNullable<BenchResult["sqlite"]>> {
  log("copying the synthetic Synapse into SQLite ...");
  const file = join(dir, "homeserver.db");
  await sqliteCopyOf(cluster, "synapse", file);
  await cluster.cloneDatabase("mas_template", "mas_tool_sqlite");
  await cluster.sql("postgres", "CHECKPOINT");
  log("running syn2mas migrate from SQLite ...");
  const synapseConfig = await writeSqliteSynapseConfig(dir, file, GUESTS_OFF);
  const masConfig = await writeMasConfig(dir, { uri: cluster.uri("mas_tool_sqlite"), fileName: "mas-config-sqlite.yaml" });
  const tool = await runTool(["migrate", "--config", masConfig, "--synapse-config", synapseConfig]);
  return {
    toolSeconds: tool.seconds,
    toolPeakRssMb: tool.peakRssMb,
    fileMb: statSync(file).size / 1024 / 1024,
    toolRows: await countRows(cluster, "mas_tool_sqlite"),
    toolFingerprints: await fingerprints(cluster, "mas_tool_sqlite"),
  };
}

/**
 * The synthetic Synapse of `users` users as database `synapse`, and a fresh copy of the MAS 1.22
 * schema (with the fixture's providers) under each of `masDatabases`.
 */
export async function buildSynthetic(
  cluster: Cluster,
  users: number,
  masDatabases: readonly string[],
  log: (s: string) => void,
): Promise<void> {
  log(`building a synthetic Synapse of ${users} users ...`);
  await cluster.createDatabase("synapse", { fromSqlFile: synapseSchemaSql });
  await cluster.sql("synapse", syntheticSynapseSql(users));
  // A live Synapse database is long vacuumed: without this, autovacuum's first pass over the
  // fresh tables (and the first reader's hint-bit writes) land at random in the timed runs.
  await cluster.sql("synapse", "VACUUM (FREEZE, ANALYZE)");
  await cluster.createDatabase("mas_template", { fromSqlFile: [masEmptySql("1.22.0"), masProvidersSql] });
  for (const db of masDatabases) await cluster.cloneDatabase("mas_template", db);
  await cluster.sql("postgres", "CHECKPOINT");
}

/** Builds the data, runs the limit and the tool, and returns the figures. */
export async function bench(
  users: number,
  options: { connections?: number; source?: BenchSource; log?: (s: string) => void } = {},
): Promise<BenchResult> {
  const log = options.log ?? ((s: string) => process.stderr.write(s + "\n"));
  const cluster = await startCluster();
  const dir = mkdtempSync(join(tmpdir(), "syn2mas-bench-"));
  try {
    await buildSynthetic(cluster, users, ["mas_limit", "mas_tool", "mas_raw"], log);
    const connections = options.connections ?? 4;

    log("running the limit (SQL + COPY, parallel, indexes rebuilt) ...");
    const { value: limitSeconds, cpuSeconds: limitCpu } = await withMachineCpu(() =>
      runLimit(cluster, "synapse", "mas_limit", limitQueries(PROVIDERS), connections),
    );
    await cluster.sql("postgres", "CHECKPOINT");
    const limitRows = await countRows(cluster, "mas_limit");

    log("running the raw ingest limit (simplest SQL + COPY, same row counts, parallel, indexes rebuilt) ...");
    const { value: rawLimitSeconds, cpuSeconds: rawCpu } = await withMachineCpu(() =>
      runLimit(cluster, "synapse", "mas_raw", rawQueries(PROVIDERS, limitRows), connections),
    );
    await cluster.sql("postgres", "CHECKPOINT");
    const rawLimitRows = await countRows(cluster, "mas_raw");
    const uneven = TABLE_ORDER.filter((t) => rawLimitRows[t] !== limitRows[t]);
    if (uneven.length > 0)
      throw new Error(
        `the raw ingest limit wrote other row counts than the limit: ` +
          uneven.map((t) => `${t} ${rawLimitRows[t]} against ${limitRows[t]}`).join(", "),
      );

    const synapseConfig = await writeSynapseConfig(dir, { databaseUri: cluster.uri("synapse"), overrides: GUESTS_OFF });
    const masConfig = await writeMasConfig(dir, { uri: cluster.uri("mas_tool") });
    log("running syn2mas check ...");
    // Exit 11 (unaccepted warnings) is a finished check as much as 0.
    const checked = await runTool(["check", "--config", masConfig, "--synapse-config", synapseConfig], [0, 11]);
    log("running syn2mas migrate ...");
    const tool = await runTool(["migrate", "--config", masConfig, "--synapse-config", synapseConfig]);
    log("running syn2mas verify ...");
    const verified = await runTool(["verify", "--config", masConfig, "--synapse-config", synapseConfig, "--json"]);
    const sqlite = options.source === "sqlite" ? await runToolFromSqlite(cluster, dir, log) : undefined;

    const toolRows = await countRows(cluster, "mas_tool");
    const rowsWritten = Object.values(toolRows).reduce((a, b) => a + b, 0);
    return {
      users,
      limitSeconds,
      toolSeconds: tool.seconds,
      ratio: tool.seconds / limitSeconds,
      rowsWritten,
      limitRowsPerSecond: Object.values(limitRows).reduce((a, b) => a + b, 0) / limitSeconds,
      rawLimitSeconds,
      rawLimitRowsPerSecond: Object.values(rawLimitRows).reduce((a, b) => a + b, 0) / rawLimitSeconds,
      rawRatio: tool.seconds / rawLimitSeconds,
      rawLimitRows,
      toolRowsPerSecond: rowsWritten / tool.seconds,
      toolPeakRssMb: tool.peakRssMb,
      checkSeconds: checked.seconds,
      checkPeakRssMb: checked.peakRssMb,
      cpu: {
        cores: cpus().length,
        limitSeconds: limitCpu,
        rawLimitSeconds: rawCpu,
        toolSeconds: tool.cpuSeconds,
        toolProcessSeconds: tool.processCpuSeconds,
      },
      verifySeconds: verified.seconds,
      verifyPeakRssMb: verified.peakRssMb,
      verifySplit: (JSON.parse(verified.stdout) as { seconds: BenchResult["verifySplit"] }).seconds,
      limitRows,
      toolRows,
      limitFingerprints: await fingerprints(cluster, "mas_limit"),
      toolFingerprints: await fingerprints(cluster, "mas_tool"),
      ...(sqlite ? { sqlite } : {}),
    };
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: "string", default: "100000" },
      connections: { type: "string", default: "4" },
      source: { type: "string", default: "postgres" },
      json: { type: "boolean", default: false },
      online: { type: "boolean", default: false },
      churn: { type: "string", default: "1" },
    },
  });
  if (values.online) {
    const online = await benchOnline(Number(values.users), Number(values.churn));
    process.stdout.write((values.json ? JSON.stringify(online, null, 2) : onlineLines(online).join("\n")) + "\n");
    if (online.differences > 0) process.exitCode = 1;
    return;
  }
  if (values.source !== "postgres" && values.source !== "sqlite")
    throw new Error(`--source ${values.source}: postgres or sqlite`);
  const result = await bench(Number(values.users), { connections: Number(values.connections), source: values.source });
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    return;
  }
  const lines = [
    `users                 ${result.users}`,
    `rows written          ${result.rowsWritten}`,
    `limit                 ${result.limitSeconds.toFixed(2)} s  (${Math.round(result.limitRowsPerSecond)} rows/s)`,
    `syn2mas migrate       ${result.toolSeconds.toFixed(2)} s  (${Math.round(result.toolRowsPerSecond)} rows/s)`,
    `ratio tool/limit      ${result.ratio.toFixed(2)}`,
    `raw ingest limit      ${result.rawLimitSeconds.toFixed(2)} s  (${Math.round(result.rawLimitRowsPerSecond)} rows/s)`,
    `ratio tool/raw        ${result.rawRatio.toFixed(2)}`,
    `tool peak RSS         ${result.toolPeakRssMb.toFixed(1)} MB`,
    `CPU time, ${result.cpu.cores} cores    limit ${result.cpu.limitSeconds.toFixed(1)} s, raw ingest limit ` +
      `${result.cpu.rawLimitSeconds.toFixed(1)} s, migrate ${result.cpu.toolSeconds.toFixed(1)} s ` +
      `(its own process ${result.cpu.toolProcessSeconds.toFixed(1)} s)`,
    `syn2mas check         ${result.checkSeconds.toFixed(2)} s  (check/migrate ${(result.checkSeconds / result.toolSeconds).toFixed(2)}; ` +
      `peak RSS ${result.checkPeakRssMb.toFixed(1)} MB)`,
    `syn2mas verify        ${result.verifySeconds.toFixed(2)} s  (verify/migrate ${(result.verifySeconds / result.toolSeconds).toFixed(2)}; ` +
      `peak RSS ${result.verifyPeakRssMb.toFixed(1)} MB)`,
    `  verify's split       passwords ${result.verifySplit.passwords.toFixed(2)} s, expected rows and comparisons ` +
      `${result.verifySplit.expectedAndCompared.toFixed(2)} s, of which comparisons ` +
      Object.entries(result.verifySplit.compare)
        .map(([t, s]) => `${t} ${s.toFixed(2)}`)
        .join(", "),
  ];
  const { sqlite } = result;
  if (sqlite) {
    lines.push(
      `syn2mas from SQLite   ${sqlite.toolSeconds.toFixed(2)} s  (PostgreSQL source: ${result.toolSeconds.toFixed(2)} s; ` +
        `SQLite/PostgreSQL ${(sqlite.toolSeconds / result.toolSeconds).toFixed(2)}; file ${sqlite.fileMb.toFixed(0)} MB)`,
      `  from SQLite peak RSS ${sqlite.toolPeakRssMb.toFixed(1)} MB`,
    );
  }
  for (const t of TABLE_ORDER) {
    const same = result.limitFingerprints[t] === result.toolFingerprints[t] ? "same rows" : "ROWS DIFFER";
    const fromSqlite = sqlite
      ? `  from SQLite ${sqlite.toolRows[t]} ${sqlite.toolFingerprints[t] === result.limitFingerprints[t] ? "same rows" : "ROWS DIFFER"}`
      : "";
    lines.push(
      `  ${t.padEnd(34)} limit ${result.limitRows[t]}  tool ${result.toolRows[t]}  ${same}${fromSqlite}  raw ${result.rawLimitRows[t]}`,
    );
  }
  process.stdout.write(lines.join("\n") + "\n");
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
