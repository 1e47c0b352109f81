/** Runs every check before a migration or for `check`: configuration rules, then Synapse's database, then MAS's. */
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import type { CheckContext } from "./context.ts";
import type { Finding } from "./finding.ts";
import { masConfigRules } from "./mas-config.ts";
import { masDbRules } from "./mas-db.ts";
import { synapseConfigRules } from "./synapse-config.ts";
import { synapseDbRules, synapseSchemaRule } from "./synapse-db.ts";

export type { CheckContext as PreconditionInput } from "./context.ts";

export interface PreconditionResult {
  findings: Finding[];
  /** Optional MAS columns present in the target (e.g. `user_emails.confirmed_at`). */
  presentOptionalColumns: Set<string>;
}

/** The rules that need no database. */
export function configRules(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  return [...synapseConfigRules(synapse), ...masConfigRules(synapse, mas)];
}

/** Runs every precondition. Never throws for a finding; throws only when it could not check. */
export async function runPreconditions(input: CheckContext): Promise<PreconditionResult> {
  const result: PreconditionResult = { findings: configRules(input.synapse, input.mas), presentOptionalColumns: new Set() };
  if (result.findings.some((f) => f.code === "UNSUPPORTED_DATABASE")) return result;
  const schema = await synapseSchemaRule(input);
  result.findings.push(...schema);
  if (schema.length > 0) return result;
  // The MAS checks use their own connection: they run while the Synapse queries do.
  const [synapseFindings, mas] = await Promise.all([synapseDbRules(input), masDbRules(input)]);
  result.findings.push(...synapseFindings, ...mas.findings);
  result.presentOptionalColumns = mas.presentOptionalColumns;
  return result;
}
