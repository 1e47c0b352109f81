/** `check`: the preconditions and what `migrate` would skip, writing nothing anywhere. */
import type { Finding } from "../checks/finding.ts";
import type { Entity } from "../mapping/skip.ts";
import type { MigrationReport } from "../report/report.ts";
import { checkThenStream, type RowDestination } from "./check-then-stream.ts";
import { connectionsFor, unreadableSource, type RunSetup } from "./connections.ts";
import { CountingSink } from "./counting-sink.ts";
import { withSynapseAndMas } from "./open-source.ts";

/** What `check` found, and what `migrate` would skip (null when Synapse's schema could not be read). */
export interface CheckOutcome {
  findings: Finding[];
  wouldSkip: MigrationReport["skipped"] | null;
  /** The links migrate would write, by SOURCE (null when no row was read). */
  wouldLink: MigrationReport["links"] | null;
}

/** Check's destination: the mapped rows are counted, never written; blocking findings do not stop the count. */
const COUNT_ONLY: RowDestination = {
  stopsWhenBlocked: false,
  writesMas: false,
  realRun: false,
  receive: (stream) => stream(new CountingSink()),
};

/** The order `check` prints its counts in: entities as the report's phases meet them. */
const ENTITY_ORDER: readonly Entity[] = [
  "users",
  "passwords",
  "emails",
  "unsupported_threepids",
  "external_ids",
  "devices",
  "access_tokens",
  "refresh_tokens",
];

/** The skip counts in a stable order: entities as {@link ENTITY_ORDER}, then reasons by count, largest first, then by name. */
export function inCheckOrder(skipped: MigrationReport["skipped"]): MigrationReport["skipped"] {
  const ordered: MigrationReport["skipped"] = {};
  for (const entity of ENTITY_ORDER) {
    const reasons = skipped[entity];
    if (reasons === undefined) continue;
    const sorted = Object.entries(reasons).sort(
      ([ra, a], [rb, b]) => (b as number) - (a as number) || (ra < rb ? -1 : ra > rb ? 1 : 0),
    );
    ordered[entity] = Object.fromEntries(sorted);
  }
  return ordered;
}

/**
 * Runs the preconditions, writing nothing: both sides are read in read-only transactions. When
 * Synapse's schema is readable, also streams every row, in the same snapshot, through the same
 * mappers as `migrate` into a counter: what `migrate` would skip, with the same reasons as its report.
 */
export async function check(setup: RunSetup): Promise<CheckOutcome> {
  const unreadable = unreadableSource(setup);
  if (unreadable) return { findings: unreadable, wouldSkip: null, wouldLink: null };
  return withSynapseAndMas(connectionsFor(setup, "check"), async (synapse, masDb) => {
    const source = await synapse.openSource();
    await masDb.query("BEGIN READ ONLY");
    try {
      const readers = await synapse.openReaders();
      try {
        const { findings, report } = await checkThenStream({
          setup,
          readers,
          source,
          masDb,
          destination: COUNT_ONLY,
          dryRun: true,
        });
        return {
          findings,
          wouldSkip: report === null ? null : inCheckOrder(report.skipped),
          wouldLink: report === null ? null : report.links,
        };
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
