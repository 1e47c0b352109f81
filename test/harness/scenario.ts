/** A ready migration scenario: fresh Synapse and MAS databases cloned from fixture templates, configs beside them. */
import { masEmptySql, masProvidersSql, synapseSmallSql, type MasVersion } from "./fixtures.ts";
import type { Cluster } from "./postgres.ts";
import { startCli, type CliResult } from "./background.ts";
import { scratchDir } from "./scratch.ts";
import { writeMasConfig, writeSynapseConfig, type ConfigOverrides } from "./temp-config.ts";

/** The built CLI (npm test builds it first). */
export { cliPath, type CliResult } from "./background.ts";

const templatesReady = new WeakMap<Cluster, Promise<void>>();

/** Creates the template databases once per cluster: Synapse small, MAS 1.22 and 1.0 with and without providers. */
function ensureTemplates(cluster: Cluster): Promise<void> {
  let ready = templatesReady.get(cluster);
  if (ready === undefined) {
    ready = (async () => {
      await cluster.createDatabase("tpl_synapse", { fromSqlFile: synapseSmallSql });
      for (const version of ["1.22.0", "1.0.0"] as MasVersion[]) {
        const base = `tpl_mas_${version.replace(/\./g, "_")}`;
        await cluster.createDatabase(`${base}_bare`, { fromSqlFile: masEmptySql(version) });
        await cluster.createDatabase(base, { fromSqlFile: [masEmptySql(version), masProvidersSql] });
      }
    })();
    templatesReady.set(cluster, ready);
  }
  return ready;
}

/**
 * The fixture Synapse ran with guest access on, which MAS cannot serve (GUEST_ACCESS_ENABLED, an
 * error). The clean pair of configurations turns it off, as an operator would before migrating.
 */
export const GUESTS_OFF = { allow_guest_access: false } as const;

export interface ScenarioOptions {
  masVersion?: MasVersion;
  /** Load mas-providers.sql (as `mas-cli config sync` would). Default true. */
  providers?: boolean;
  synapseOverrides?: ConfigOverrides;
  masOverrides?: ConfigOverrides;
}

export interface Scenario {
  dir: string;
  synapseDb: string;
  masDb: string;
  synapseConfig: string;
  masConfig: string;
  /** `--config X --synapse-config Y` for the CLI. */
  configArgs: string[];
}

let counter = 0;

/** Fresh databases named after `name`, and configuration files pointing at them. */
export async function prepareScenario(cluster: Cluster, name: string, options: ScenarioOptions = {}): Promise<Scenario> {
  await ensureTemplates(cluster);
  const id = `${name.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${++counter}`;
  const synapseDb = `syn_${id}`;
  const masDb = `mas_${id}`;
  const version = (options.masVersion ?? "1.22.0").replace(/\./g, "_");
  await cluster.cloneDatabase("tpl_synapse", synapseDb);
  await cluster.cloneDatabase(`tpl_mas_${version}${options.providers === false ? "_bare" : ""}`, masDb);
  const dir = scratchDir(`syn2mas-${id}-`);
  const synapseConfig = await writeSynapseConfig(dir, {
    databaseUri: cluster.uri(synapseDb),
    overrides: options.synapseOverrides,
  });
  const masConfig = await writeMasConfig(dir, { uri: cluster.uri(masDb), overrides: options.masOverrides });
  return {
    dir,
    synapseDb,
    masDb,
    synapseConfig,
    masConfig,
    configArgs: ["--config", masConfig, "--synapse-config", synapseConfig],
  };
}

/** Runs the built CLI to completion with a clean environment (no PG* variables unless given). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done;
}
