/**
 * `npm run bench -- --users N --online --churn P`: the online migration on a synthetic Synapse of
 * N users. `syn2mas prepare` (timed), then P% of the users changed in every way a running Synapse
 * changes them (bench/churn.ts), then the cut-over, `syn2mas migrate` with the stage (timed: the
 * downtime). The final Synapse is also migrated offline into a second MAS (timed: the downtime
 * without a stage), and both MAS databases must hold the same rows, ids aside.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startCluster } from "../test/harness/postgres.ts";
import { GUESTS_OFF } from "../test/harness/scenario.ts";
import { writeMasConfig, writeSynapseConfig } from "../test/harness/temp-config.ts";
import { churnSynapse, type ChurnSummary } from "./churn.ts";
import { compareMasDatabases } from "../test/harness/mas-compare.ts";
import { besidesRunTimes, recordedRunTime } from "../test/harness/run-times.ts";
import { buildSynthetic, runTool } from "./run.ts";

export interface OnlineBenchResult {
  users: number;
  churnPercent: number;
  churn: ChurnSummary;
  prepareSeconds: number;
  preparePeakRssMb: number;
  cutOverSeconds: number;
  cutOverPeakRssMb: number;
  /** Synapse users the cut-over read again. */
  usersReread: number;
  /** The cut-over's report phases (seconds each); validate_foreign_keys runs after its commit. */
  cutOverPhases: { name: string; seconds: number }[];
  /** The same final Synapse migrated offline (the downtime without a stage). */
  offlineSeconds: number;
  offlinePeakRssMb: number;
  /** Rows that differ between the two MAS databases, ids aside and besides the run's own time (must be 0). */
  differences: number;
  /** Rows that differ only by carrying each run's own time (test/harness/run-times.ts). */
  runTimeRows: number;
}

interface StageJson {
  report: { stage?: { usersReread: number | null }; phases: { name: string; seconds: number }[] } | null;
}

export async function benchOnline(
  users: number,
  churnPercent: number,
  log: (s: string) => void = (s) => process.stderr.write(s + "\n"),
): Promise<OnlineBenchResult> {
  const cluster = await startCluster();
  const dir = mkdtempSync(join(tmpdir(), "syn2mas-bench-online-"));
  try {
    await buildSynthetic(cluster, users, ["mas_online", "mas_offline"], log);
    const synapseConfig = await writeSynapseConfig(dir, { databaseUri: cluster.uri("synapse"), overrides: GUESTS_OFF });
    const online = ["--config", await writeMasConfig(dir, { uri: cluster.uri("mas_online") }), "--synapse-config", synapseConfig];
    const offline = [
      "--config",
      await writeMasConfig(dir, { uri: cluster.uri("mas_offline"), fileName: "mas-offline.yaml" }),
      "--synapse-config",
      synapseConfig,
    ];

    log("running syn2mas prepare ...");
    const prepared = await runTool(["prepare", ...online]);
    log(`changing ${churnPercent}% of the users ...`);
    const client = new pg.Client({ connectionString: cluster.uri("synapse") });
    await client.connect();
    let churn: ChurnSummary;
    try {
      churn = await churnSynapse(client, { fraction: churnPercent / 100, seed: 1 });
    } finally {
      await client.end();
    }
    await cluster.sql("synapse", "ANALYZE");
    await cluster.sql("postgres", "CHECKPOINT");
    log("running the cut-over (syn2mas migrate with the stage) ...");
    const cutOver = await runTool(["migrate", ...online, "--json"]);
    const cutOverReport = (JSON.parse(cutOver.stdout) as StageJson).report;
    log("running syn2mas migrate offline on the final Synapse ...");
    const offlineRun = await runTool(["migrate", ...offline]);
    log("comparing both MAS databases ...");
    const a = new pg.Client({ connectionString: cluster.uri("mas_online") });
    const b = new pg.Client({ connectionString: cluster.uri("mas_offline") });
    await a.connect();
    await b.connect();
    let differences: number;
    let runTimeRows: number;
    try {
      const found = await compareMasDatabases(a, b, { cap: 100_000 });
      differences = besidesRunTimes(found, await recordedRunTime(a), await recordedRunTime(b)).length;
      runTimeRows = found.length - differences;
    } finally {
      await a.end();
      await b.end();
    }
    return {
      users,
      churnPercent,
      churn,
      prepareSeconds: prepared.seconds,
      preparePeakRssMb: prepared.peakRssMb,
      cutOverSeconds: cutOver.seconds,
      cutOverPeakRssMb: cutOver.peakRssMb,
      usersReread: cutOverReport?.stage?.usersReread ?? -1,
      cutOverPhases: (cutOverReport?.phases ?? []).map(({ name, seconds }) => ({ name, seconds })),
      offlineSeconds: offlineRun.seconds,
      offlinePeakRssMb: offlineRun.peakRssMb,
      differences,
      runTimeRows,
    };
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The figures, one per line. */
export function onlineLines(r: OnlineBenchResult): string[] {
  return [
    `users                 ${r.users}`,
    `churn                 ${r.churnPercent}% (${r.churn.touchedUsers.length} users touched; ${Object.entries(r.churn.counts)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(", ")})`,
    `syn2mas prepare       ${r.prepareSeconds.toFixed(2)} s  (peak RSS ${r.preparePeakRssMb.toFixed(1)} MB)`,
    `cut-over (migrate)    ${r.cutOverSeconds.toFixed(2)} s  (peak RSS ${r.cutOverPeakRssMb.toFixed(1)} MB; ${r.usersReread} users read again)`,
    `cut-over phases       ${r.cutOverPhases
      .filter((p) => p.seconds >= 0.005)
      .map((p) => `${p.name} ${p.seconds.toFixed(2)}`)
      .join(", ")} s (validate_foreign_keys after the commit)`,
    `offline migrate       ${r.offlineSeconds.toFixed(2)} s  (peak RSS ${r.offlinePeakRssMb.toFixed(1)} MB; cut-over/offline ` +
      `${(r.cutOverSeconds / r.offlineSeconds).toFixed(2)})`,
    `same rows             ${r.differences === 0 ? "yes (ids aside)" : `NO: ${r.differences} rows differ`}; ` +
      `${r.runTimeRows} rows carry each run's own time`,
  ];
}
