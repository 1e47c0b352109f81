/** Runs every check before a migration or for `check`: configuration rules, then Synapse's database, then MAS's. */
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import type { CheckContext } from "./context.ts";
import type { Finding } from "./finding.ts";
import { masConfigRules } from "./mas-config.ts";
import { masDbRules } from "./mas-db.ts";
import { synapseConfigRules } from "./synapse-config.ts";
import { synapseAdvisoryRules, synapseBlockingRules, synapseSchemaRule } from "./synapse-db.ts";

export type { CheckContext as PreconditionInput } from "./context.ts";

export interface PreconditionResult {
  /**
   * The findings known when {@link runPreconditions} returns: all of them, or, with
   * `synapseDataInBackground`, those of the configuration, Synapse's schema and MAS only.
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

/** The rules that need no database. */
export function configRules(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  return [...synapseConfigRules(synapse), ...masConfigRules(synapse, mas)];
}

/**
 * Runs every precondition. Never throws for a finding; throws only when it could not check.
 * With `synapseDataInBackground`, the checks of Synapse's data (the slow ones: they scan every
 * table) are left running on the snapshot's connections, and `complete` resolves once they are
 * done, so that a migration can write (inside its transaction, which a blocking finding then rolls
 * back) while they run.
 */
export async function runPreconditions(
  input: CheckContext,
  options: { synapseDataInBackground?: boolean } = {},
): Promise<PreconditionResult> {
  const early = configRules(input.synapse, input.mas);
  const done = (findings: Finding[], presentOptionalColumns = new Set<string>()): PreconditionResult => ({
    findings,
    presentOptionalColumns,
    complete: Promise.resolve(findings),
  });
  if (early.some((f) => f.code === "UNSUPPORTED_DATABASE")) return done(early);
  const schema = await synapseSchemaRule(input);
  early.push(...schema);
  if (schema.length > 0) return done(early);
  const runSynapseData = (): Promise<[Finding[], Finding[]]> => {
    const running = Promise.all([synapseBlockingRules(input), synapseAdvisoryRules(input)]);
    // Mark it handled now: if the caller gives up first (an error elsewhere), its failure is not unhandled.
    running.catch(() => undefined);
    return running;
  };
  // In the background, the Synapse data checks start once the MAS checks are done: these need one
  // short Synapse query, which would otherwise wait behind the long ones. In the foreground, the
  // MAS checks (on their own connection) run while the Synapse queries do.
  const background = options.synapseDataInBackground === true;
  let synapseData = background ? undefined : runSynapseData();
  const mas = await masDbRules(input);
  synapseData ??= runSynapseData();
  const inOrder = async (): Promise<Finding[]> => {
    const [blocking, advisory] = await synapseData;
    return [...early, ...blocking, ...mas.findings, ...advisory];
  };
  if (background) {
    const complete = inOrder();
    complete.catch(() => undefined);
    return { findings: [...early, ...mas.findings], presentOptionalColumns: mas.presentOptionalColumns, complete };
  }
  return done(await inOrder(), mas.presentOptionalColumns);
}
