/** Rules over the Synapse configuration against the MAS configuration. Pure: no database. */
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import { finding, type Finding } from "./finding.ts";

/** Findings about how MAS is configured for this Synapse. */
export function masConfigRules(synapse: SynapseConfig, mas: MasConfig): Finding[] {
  const findings: Finding[] = [];
  if (mas.homeserver !== synapse.serverName) {
    findings.push(
      finding(
        "SERVER_NAME_MISMATCH",
        `MAS matrix.homeserver is "${mas.homeserver ?? "(unset)"}" but Synapse server_name is "${synapse.serverName}". ` +
          `Set matrix.homeserver: ${synapse.serverName} in the MAS configuration.`,
      ),
    );
  }
  return findings;
}
