/** `check`: the preconditions and what `migrate` would skip, writing nothing anywhere. */
import type { Finding } from "../checks/finding.ts";
import { runPreconditions } from "../checks/preconditions.ts";
import { applyPolicy } from "../checks/policy.ts";
import type { MigrationReport } from "../report/report.ts";
import { countSkips } from "../source/postgres-skip-counts.ts";
import { connectionsFor, unreadableSource, type RunSetup } from "./connections.ts";
import { withSynapseAndMas } from "./open-source.ts";

/** What `check` found, and what `migrate` would skip (null when Synapse's schema could not be read). */
export interface CheckOutcome {
  findings: Finding[];
  wouldSkip: MigrationReport["skipped"] | null;
}

/**
 * Runs the preconditions alone, writing nothing: both sides are read in read-only transactions.
 * When Synapse's schema is readable, also counts in SQL, in the same snapshot, what `migrate`
 * would skip, with the same reasons as its report.
 */
export async function check(setup: RunSetup): Promise<CheckOutcome> {
  const unreadable = unreadableSource(setup);
  if (unreadable) return { findings: unreadable, wouldSkip: null };
  return withSynapseAndMas(connectionsFor(setup, "check"), async (synapse, masDb) => {
    const source = await synapse.openSource();
    await masDb.query("BEGIN READ ONLY");
    try {
      const readers = await synapse.openReaders();
      try {
        // The time sessions are judged ended at, by the findings and the skip counts alike.
        const now = Date.now();
        const result = await runPreconditions({
          ...setup, synapseDb: readers, ownSynapsePids: readers.pids, masDb, realRun: false, writesMas: false, now,
        });
        const findings = applyPolicy(result.findings, setup.policy);
        const schemaReadable = !findings.some((f) => f.code === "SYNAPSE_SCHEMA_UNSUPPORTED" || f.code === "UNSUPPORTED_DATABASE");
        const wouldSkip = schemaReadable ? await countSkips(readers, setup.synapse.serverName, setup.providers, now) : null;
        return { findings, wouldSkip };
      } finally {
        await readers.close();
      }
    } finally {
      await masDb.query("ROLLBACK").catch(() => undefined);
      // Ends the snapshot; for an SQLite file read without locks, fails if the file changed meanwhile.
      await source.close();
    }
  });
}
