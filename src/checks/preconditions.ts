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
  findings: Finding[];
  /** Optional MAS columns present in the target (e.g. `user_emails.confirmed_at`). */
  presentOptionalColumns: Set<string>;
  /**
   * The warning/info findings about Synapse's data when they were left running in the background
   * (see {@link runPreconditions}); resolves to [] when they are already in `findings`.
   */
  advisory: Promise<Finding[]>;
}

/** The rules that need no database. */
export function configRules(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  return [...synapseConfigRules(synapse), ...masConfigRules(synapse, mas)];
}

/**
 * Runs every precondition. Never throws for a finding; throws only when it could not check.
 * With `advisoryInBackground`, the warnings and information about Synapse's data (which can never
 * block a migration without --strict) are left running on the snapshot's connections and handed
 * back as a promise, so that the migration can start writing while they finish.
 */
export async function runPreconditions(
  input: CheckContext,
  options: { advisoryInBackground?: boolean } = {},
): Promise<PreconditionResult> {
  const result: PreconditionResult = {
    findings: configRules(input.synapse, input.mas),
    presentOptionalColumns: new Set(),
    advisory: Promise.resolve([]),
  };
  if (result.findings.some((f) => f.code === "UNSUPPORTED_DATABASE")) return result;
  const schema = await synapseSchemaRule(input);
  result.findings.push(...schema);
  if (schema.length > 0) return result;
  const advisory = synapseAdvisoryRules(input);
  // Mark it handled now: if the caller gives up first (an error elsewhere), its failure is not unhandled.
  advisory.catch(() => undefined);
  // The MAS checks use their own connection: they run while the Synapse queries do.
  const [blocking, mas] = await Promise.all([synapseBlockingRules(input), masDbRules(input)]);
  result.findings.push(...blocking, ...mas.findings);
  result.presentOptionalColumns = mas.presentOptionalColumns;
  if (options.advisoryInBackground) result.advisory = advisory;
  else result.findings.push(...(await advisory));
  return result;
}
