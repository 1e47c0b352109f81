/** Rules over the Synapse configuration alone. Pure: no database, no file system. */
import type { SynapseConfig } from "../config/types.ts";
import { finding, type Finding } from "./finding.ts";

/** Findings about Synapse's own settings. */
export function synapseConfigRules(synapse: SynapseConfig): Finding[] {
  const findings: Finding[] = [];
  if (synapse.databaseEngine !== "psycopg2") {
    findings.push(
      finding(
        "UNSUPPORTED_DATABASE",
        `Synapse's database.name is "${synapse.databaseEngine}"; this version reads PostgreSQL (psycopg2) only. ` +
          `Point --synapse-database-uri at a PostgreSQL copy of the Synapse database.`,
      ),
    );
  }
  return findings;
}
