/** Rules over the Synapse database: schema, user ids, orphans, providers, running sessions. Counts come from SQL. */
import {
  authProvidersInUse,
  foreignUserIdRows,
  missingSynapseColumns,
  orphanRows,
  otherSessions,
  type RowSample,
} from "../source/postgres-stats.ts";
import type { CheckContext } from "./context.ts";
import { finding, MAX_EXAMPLES, type Finding } from "./finding.ts";

function describeSamples(samples: RowSample[]): string {
  return samples.map((s) => `${s.table}: ${s.count}`).join(", ");
}

function sampleExamples(samples: RowSample[]): string[] {
  return samples.flatMap((s) => s.examples).slice(0, MAX_EXAMPLES);
}

/** Findings about the Synapse database. */
export async function synapseDbRules(input: CheckContext): Promise<Finding[]> {
  const findings: Finding[] = [];
  await synapseRules(input, findings);
  return findings;
}

async function synapseRules(input: CheckContext, findings: Finding[]): Promise<void> {
  const db = input.synapseDb;
  const missing = await missingSynapseColumns(db);
  if (missing.length > 0) {
    findings.push(
      finding(
        "SYNAPSE_SCHEMA_UNSUPPORTED",
        `The Synapse database lacks tables or columns this tool reads: ${missing.slice(0, 10).join(", ")}` +
          `${missing.length > 10 ? ", ..." : ""}. Is this a Synapse database? Upgrade Synapse (1.100 or later) and start it once.`,
        { count: missing.length, examples: missing.slice(0, MAX_EXAMPLES) },
      ),
    );
    return;
  }
  const severity = input.skipInvalidRows ? "info" : "error";
  const skipHint = input.skipInvalidRows
    ? "They will be skipped and counted, as --skip-invalid-rows asks."
    : "Delete or fix them in Synapse, or pass --skip-invalid-rows to skip and count them.";
  const foreign = await foreignUserIdRows(db, input.synapse.serverName, MAX_EXAMPLES);
  if (foreign.length > 0) {
    findings.push(
      finding(
        "FOREIGN_USER_IDS",
        `Rows whose user id is malformed or not on ${input.synapse.serverName} (${describeSamples(foreign)}). ${skipHint}`,
        { severity, count: foreign.reduce((a, s) => a + s.count, 0), examples: sampleExamples(foreign) },
      ),
    );
  }
  const orphans = await orphanRows(db, input.synapse.serverName, MAX_EXAMPLES);
  if (orphans.length > 0) {
    findings.push(
      finding(
        "ORPHAN_ROWS",
        `Rows whose user has no row in Synapse's users table (${describeSamples(orphans)}). ${skipHint}`,
        { severity, count: orphans.reduce((a, s) => a + s.count, 0), examples: sampleExamples(orphans) },
      ),
    );
  }
  const used = await authProvidersInUse(db, input.synapse.serverName);
  for (const [authProvider, count] of used) {
    if (input.providers.has(authProvider)) continue;
    findings.push(
      finding(
        "PROVIDER_NOT_IN_MAS",
        `${count} external ids use Synapse's auth_provider "${authProvider}", but no MAS provider has ` +
          `synapse_idp_id: ${authProvider}. Add \`synapse_idp_id: ${authProvider}\` to that provider under ` +
          `upstream_oauth2.providers in the MAS configuration (or pass --upstream-provider-mapping ${authProvider}:<ULID>).`,
        { count, examples: [authProvider] },
      ),
    );
  }
  if (input.realRun && !input.allowRunningSynapse) {
    const others = await otherSessions(db);
    if (others.length > 0) {
      findings.push(
        finding(
          "SYNAPSE_RUNNING",
          `${others.length} other sessions are connected to the Synapse database (${others.slice(0, MAX_EXAMPLES).join(", ")}). ` +
            "Stop Synapse and its workers before migrating, or pass --ignore-synapse-running if you know they are idle.",
          { count: others.length, examples: others.slice(0, MAX_EXAMPLES) },
        ),
      );
    }
  }
}

