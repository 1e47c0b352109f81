/** Runs every check before a migration or for `check`: configuration rules, then Synapse's database, then MAS's. */
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import type { CheckContext } from "./context.ts";
import type { Finding } from "./finding.ts";
import { masConfigRules } from "./mas-config.ts";
import { masDbRules, masIsSynapseRule } from "./mas-db.ts";
import { synapseConfigRules, type LinkCoverage } from "./synapse-config.ts";
import { probeMasSchema } from "../target/probe.ts";
import { onlineMigrationRule, stagePresentRule } from "./online.ts";
import { synapseAdvisoryRules, synapseBlockingRules, synapseSchemaRule } from "./synapse-db.ts";

export type { CheckContext as PreconditionInput } from "./context.ts";

/** The checks that can block, and what the run needs from them. */
export interface BlockingResult {
  /** Every finding but the warnings and information about Synapse's data ({@link runAdvisoryChecks}). */
  findings: Finding[];
  /** Optional MAS columns present in the target (e.g. `user_emails.confirmed_at`). */
  presentOptionalColumns: Set<string>;
  /**
   * The advisory checks apply: no finding made the others beside the point (a database this tool
   * cannot read, MAS's settings pointing at Synapse's database, a Synapse schema it does not know).
   */
  advisoryApplies: boolean;
}

/** The rules that need no database; `coverage`: the run's links and mapped providers. */
export function configRules(synapse: SynapseConfig, mas: MasConfig, coverage: LinkCoverage = {}): Finding[] {
  return [...synapseConfigRules(synapse, coverage), ...masConfigRules(synapse, mas)];
}

/**
 * The findings that make every other database finding beside the point (a database this tool
 * cannot read, MAS's settings pointing at Synapse's database, a Synapse schema it does not know):
 * `stop` when one fires; else the configuration's findings, to go on with.
 */
async function readability(input: CheckContext): Promise<{ stop: BlockingResult } | { early: Finding[] }> {
  const early = configRules(input.synapse, input.mas, input);
  const stop = (findings: Finding[]) => ({
    stop: { findings, presentOptionalColumns: new Set<string>(), advisoryApplies: false },
  });
  if (early.some((f) => f.code === "UNSUPPORTED_DATABASE")) return stop(early);
  const wrongMas = await masIsSynapseRule(input);
  if (wrongMas.length > 0) return stop([...wrongMas, ...early]);
  const schema = await synapseSchemaRule(input);
  if (schema.length > 0) return stop([...early, ...schema]);
  return { early };
}

/**
 * Runs every check that can block a migration. Never throws for a finding; throws only when it
 * could not check. These checks (errors, and the MAS checks, on their own connection alongside)
 * finish before a migration writes anything, so that it writes nothing when one fires. Then
 * {@link runAdvisoryChecks}, up front or beside the load.
 */
export async function runBlockingChecks(input: CheckContext): Promise<BlockingResult> {
  const readable = await readability(input);
  if ("stop" in readable) return readable.stop;
  const [blocking, mas, stage] = await Promise.all([synapseBlockingRules(input), masDbRules(input), stagePresentRule(input)]);
  // Another run can show on both sides (MAS's lock, its sessions on Synapse): reported once, as MAS's lock has it.
  const masSaysRunning = mas.findings.some((f) => f.code === "MIGRATION_RUNNING");
  const synapseSide = masSaysRunning ? blocking.filter((f) => f.code !== "MIGRATION_RUNNING") : blocking;
  return {
    findings: [...readable.early, ...synapseSide, ...mas.findings, ...stage],
    presentOptionalColumns: mas.presentOptionalColumns,
    advisoryApplies: true,
  };
}

/**
 * Only what decides whether Synapse's rows can be read and where MAS's are: for `verify`, which
 * re-derives what a finished migration wrote (its checks passed then) and reports no findings.
 */
export async function runReadabilityChecks(input: CheckContext): Promise<BlockingResult> {
  const readable = await readability(input);
  if ("stop" in readable) return readable.stop;
  const mas = await probeMasSchema(input.masDb);
  return { findings: readable.early, presentOptionalColumns: mas.presentOptionalColumns, advisoryApplies: false };
}

/**
 * The warnings and information about Synapse's data, reported after the blocking findings. They
 * scan every table, so they start only after {@link runBlockingChecks} (they would slow those
 * down); without --strict they cannot block a migration, which may then run them beside its load.
 */
export async function runAdvisoryChecks(input: CheckContext): Promise<Finding[]> {
  const [data, online] = await Promise.all([synapseAdvisoryRules(input), onlineMigrationRule(input)]);
  return [...data, ...online];
}
