/** Runs every check before a migration or for `check`: configuration rules, then Synapse's database, then MAS's. */
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import type { CheckContext } from "./context.ts";
import type { Finding } from "./finding.ts";
import { masConfigRules } from "./mas-config.ts";
import { masDbRules, masIsSynapseRule } from "./mas-db.ts";
import { synapseConfigRules } from "./synapse-config.ts";
import { synapseAdvisoryRules, synapseBlockingRules, synapseSchemaRule } from "./synapse-db.ts";

export type { CheckContext as PreconditionInput } from "./context.ts";

export interface PreconditionResult {
  /**
   * The findings known when {@link runPreconditions} returns: all of them, or, with
   * `advisoryInBackground`, all but the warnings and information about Synapse's data.
   */
  findings: Finding[];
  /** Optional MAS columns present in the target (e.g. `user_emails.confirmed_at`). */
  presentOptionalColumns: Set<string>;
  /**
   * Every finding, in report order, once the checks left running in the background finish
   * (`findings` itself when none were). Rejects when a background check could not run.
   */
  complete: Promise<Finding[]>;
}

/** How {@link runPreconditions} runs. */
export interface PreconditionOptions {
  /**
   * Leave the warnings and information about Synapse's data (which cannot block a migration
   * without --strict) running on the snapshot's connections, and hand them back in `complete`.
   */
  advisoryInBackground?: boolean;
  /** Awaited before the background checks start (e.g. to take a connection out of their pool). */
  beforeBackground?: () => Promise<void>;
}

/** The rules that need no database. */
export function configRules(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  return [...synapseConfigRules(synapse), ...masConfigRules(synapse, mas)];
}

/**
 * Runs every precondition. Never throws for a finding; throws only when it could not check.
 * The checks that can block (errors) always finish before this returns, so that a migration
 * writes nothing when one fires; the MAS checks (on their own connection) run alongside them.
 * The warnings and information about Synapse's data start after them (they scan every table and
 * would slow them down), and with `advisoryInBackground` are left running: see {@link PreconditionOptions}.
 */
export async function runPreconditions(input: CheckContext, options: PreconditionOptions = {}): Promise<PreconditionResult> {
  const early = configRules(input.synapse, input.mas);
  const done = (findings: Finding[], presentOptionalColumns = new Set<string>()): PreconditionResult => ({
    findings,
    presentOptionalColumns,
    complete: Promise.resolve(findings),
  });
  if (early.some((f) => f.code === "UNSUPPORTED_DATABASE")) return done(early);
  // MAS's settings pointing at Synapse's database make every other database finding beside the point.
  const wrongMas = await masIsSynapseRule(input);
  if (wrongMas.length > 0) return done([...wrongMas, ...early]);
  const schema = await synapseSchemaRule(input);
  early.push(...schema);
  if (schema.length > 0) return done(early);
  const [blocking, mas] = await Promise.all([synapseBlockingRules(input), masDbRules(input)]);
  // Another run can show on both sides (MAS's lock, its sessions on Synapse): reported once, as MAS's lock has it.
  const masSaysRunning = mas.findings.some((f) => f.code === "MIGRATION_RUNNING");
  const synapseSide = masSaysRunning ? blocking.filter((f) => f.code !== "MIGRATION_RUNNING") : blocking;
  const findings = [...early, ...synapseSide, ...mas.findings];
  if (options.advisoryInBackground) {
    await options.beforeBackground?.();
    const complete = synapseAdvisoryRules(input).then((advisory) => [...findings, ...advisory]);
    // Mark it handled now: if the caller gives up first (an error elsewhere), its failure is not unhandled.
    complete.catch(() => undefined);
    return { findings, presentOptionalColumns: mas.presentOptionalColumns, complete };
  }
  findings.push(...(await synapseAdvisoryRules(input)));
  return done(findings, mas.presentOptionalColumns);
}
