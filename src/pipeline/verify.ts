/**
 * `verify`: what MAS must hold after the migration, re-derived from Synapse by migrate's own flow
 * (checks, mappers, COPY loader) into temporary copies of MAS's tables, then compared with MAS's
 * rows table by table, by natural key (src/target/natural-keys.ts), in SQL. MAS's transaction is
 * REPEATABLE READ and read-only once the temporary tables exist (PostgreSQL refuses CREATE even of a
 * temporary table in a read-only transaction); it ends in ROLLBACK, and the temporary tables with it.
 */
import type { Finding } from "../checks/finding.ts";
import type { PasswordVerifiability } from "../checks/password-verifiability.ts";
import { UserError } from "../errors/user-error.ts";
import type { MasTableName } from "../model/mas.ts";
import type { MigrationReport } from "../report/report.ts";
import { ChunkLoader } from "../target/loader.ts";
import type { RowSink } from "../target/sink.ts";
import { probeMasSchema } from "../target/probe.ts";
import { readLatestRecord, type MigrationRecord } from "../target/migration-record.ts";
import { comparisonSql, COMPARED_TABLES, ID_MAPS, NATURAL_KEYS } from "../target/natural-keys.ts";
import { columnsFor } from "../target/tables.ts";
import type { TxClient } from "../target/transaction.ts";
import { checkThenStream, type RowDestination } from "./check-then-stream.ts";
import { connectionsFor, unreadableSource, type RunSetup } from "./connections.ts";
import { withSynapseAndMas } from "./open-source.ts";
import { PHASES } from "./phases.ts";
import { masPasswordVerifiability } from "./test-password.ts";
import type pg from "pg";

/** A few rows of one kind, as the user (and device) they belong to. */
export interface Examples {
  count: number;
  examples: { user: string; device?: string }[];
}

export interface TableComparison {
  table: MasTableName;
  expected: number;
  found: number;
  equal: number;
  missing: Examples;
  unexpected: Examples;
  /** Per differing column: how many rows differ in it. */
  different: Examples & { columns: Record<string, number> };
  /** Rows MAS created after the migration committed: not differences. */
  activity: Examples;
  /** Expected rows Synapse created after the migration committed: Synapse kept running. */
  divergence: Examples;
}

export interface VerifyOutcome {
  record: { committedAt: string; toolVersion: string; counts: Record<string, number> } | null;
  tables: TableComparison[];
  /** What migrate skips, by entity and reason: the same mappers as its report's. */
  skipped: MigrationReport["skipped"];
  /** Whether MAS's configuration can verify each user's current password (counts by reason, example user ids). */
  passwords: PasswordVerifiability;
  /** Anything missing, different or unexpected. */
  differs: boolean;
  /**
   * How long counting the unverifiable passwords took; re-deriving the expected rows with the
   * comparisons that ran beside it (each table's as soon as its rows were in); and each comparison.
   */
  seconds: { passwords: number; expectedAndCompared: number; compare: Partial<Record<MasTableName, number>> };
}

const MAX_EXAMPLES = 5;
/** Memory of MAS's server for the expected rows and for the joins of the comparison (this session only). */
const TEMP_BUFFERS = "256MB";
const WORK_MEM = "128MB";

/**
 * Spooled chunks that may wait for the connection (migrate's loader allows 4): a table is compared
 * as soon as its rows are in, while the mapper goes on spooling the next phases' rows to disk
 * (50,000 rows per chunk: up to about 1.6M rows, a few hundred MB of disk, never memory).
 */
const QUEUED_CHUNKS = 32;

/** How many phases write each table: its expected rows are complete once that many have finished. */
function phasesWriting(): Map<MasTableName, number> {
  const counts = new Map<MasTableName, number>();
  for (const phase of PHASES) for (const table of phase.tables) counts.set(table, (counts.get(table) ?? 0) + 1);
  return counts;
}

/**
 * Verify's destination: migrate's COPY loader, into the temporary tables that shadow MAS's. Each
 * table is compared (`compare`, on the same connection, in write order) as soon as the phases that
 * write it have loaded: users while the emails and devices are still being read and mapped.
 */
function expectInto(masDb: pg.Client, compare: (table: MasTableName) => Promise<void>): RowDestination {
  return {
    stopsWhenBlocked: false,
    writesMas: false,
    realRun: false,
    receive: async (stream, optionalColumns) => {
      // Unqualified names resolve to pg_temp first: the loader's COPY fills the temporary copies.
      const loader = new ChunkLoader(masDb as TxClient, optionalColumns, QUEUED_CHUNKS);
      const unfinished = phasesWriting();
      let next = 0;
      const compareComplete = (all: boolean): void => {
        for (let table = COMPARED_TABLES[next]; table !== undefined; table = COMPARED_TABLES[next]) {
          if (!all && (unfinished.get(table) ?? 0) > 0) return;
          next++;
          loader.runAfterQueued(() => compare(table));
        }
      };
      const sink: RowSink = {
        openPhase(tables) {
          const phase = loader.openPhase(tables);
          return {
            add: (rows) => phase.add(rows),
            discard: () => phase.discard(),
            finish: async () => {
              const written = await phase.finish();
              for (const table of tables) unfinished.set(table, (unfinished.get(table) ?? 1) - 1);
              compareComplete(false);
              return written;
            },
          };
        },
      };
      try {
        await stream(sink);
        compareComplete(true);
        await loader.finish();
      } catch (error) {
        loader.discard();
        throw error;
      }
    },
  };
}

/**
 * The temporary tables that receive the expected rows: the columns the tool writes, with MAS's
 * types, and nothing else (no constraint, index or default). MAS's tables must exist.
 */
async function createExpectedTables(masDb: pg.Client, schema: string, optional: ReadonlySet<string>): Promise<void> {
  const present = await masDb.query<{ t: string }>(
    `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_name = ANY($2)`,
    [schema, COMPARED_TABLES],
  );
  const missing = COMPARED_TABLES.filter((t) => !present.rows.some((r) => r.t === t));
  if (missing.length > 0) {
    throw new UserError(
      `the MAS database has no table ${missing.join(", ")} in schema ${schema}: it is not a MAS database MAS has set up`,
      "point --config's database section at the MAS database the migration wrote to",
    );
  }
  for (const table of COMPARED_TABLES) {
    const columns = columnsFor(table, optional).map((c) => c.name);
    await masDb.query(
      `CREATE TEMPORARY TABLE ${table} AS SELECT ${columns.join(", ")} FROM "${schema.replace(/"/g, '""')}".${table} WITH NO DATA`,
    );
  }
  // Filled by the comparisons (natural-keys.ts): which expected row is which MAS row.
  for (const map of ID_MAPS) await masDb.query(`CREATE TEMPORARY TABLE ${map} (expected uuid NOT NULL, mas uuid NOT NULL)`);
}

function examplesOf(
  rows: readonly { n: string; users: (string | null)[] | null; devices: (string | null)[] | null }[],
): Examples {
  const examples: Examples["examples"] = [];
  let count = 0;
  for (const row of rows) {
    count += Number(row.n);
    (row.users ?? []).forEach((user, i) => {
      if (examples.length >= MAX_EXAMPLES) return;
      const device = row.devices?.[i];
      examples.push(device == null ? { user: user ?? "" } : { user: user ?? "", device });
    });
  }
  return { count, examples };
}

async function compareTable(
  masDb: pg.Client,
  table: MasTableName,
  schema: string,
  optional: ReadonlySet<string>,
  since: Date | null,
  serverName: string,
): Promise<TableComparison> {
  type Row = { status: string; diffs: string[]; n: string; users: (string | null)[] | null; devices: (string | null)[] | null };
  const result = await masDb.query<Row>(comparisonSql(table, schema, optional), [since]);
  // The pairs it recorded are joined by the next tables' comparisons: their size guides the plans.
  const recorded = NATURAL_KEYS[table].records;
  if (recorded) await masDb.query(`ANALYZE pg_temp.${recorded.map}`);
  const rows = result.rows.map((r) => ({
    ...r,
    users: r.users?.map((u) => (u === null ? null : `@${u}:${serverName}`)) ?? null,
  }));
  const of = (status: string): Row[] => rows.filter((r) => r.status === status);
  const columns: Record<string, number> = {};
  for (const row of of("different")) for (const c of row.diffs) columns[c] = (columns[c] ?? 0) + Number(row.n);
  const missing = examplesOf(of("missing"));
  const unexpected = examplesOf(of("unexpected"));
  const different = examplesOf(of("different"));
  const activity = examplesOf(of("activity"));
  const divergence = examplesOf(of("divergence"));
  const equal = examplesOf(of("equal")).count;
  return {
    table,
    expected: equal + missing.count + different.count + divergence.count,
    found: equal + different.count + unexpected.count + activity.count,
    equal,
    missing,
    unexpected,
    different: { ...different, columns },
    activity,
    divergence,
  };
}

/** The findings that stop verify from knowing what MAS must hold: Synapse's schema or database cannot be read. */
function unreadable(findings: readonly Finding[]): UserError {
  const cause = findings.find((f) => f.code === "SYNAPSE_SCHEMA_UNSUPPORTED" || f.code === "UNSUPPORTED_DATABASE");
  return new UserError(
    `cannot read Synapse's rows: ${cause?.message ?? "its schema is not one this tool reads"}`,
    "run syn2mas check with the same options to see why",
  );
}

/**
 * Re-derives what MAS must hold from Synapse and compares it with MAS, writing nothing: Synapse in
 * its read-only snapshot, MAS in one transaction that only fills temporary tables and is rolled back.
 */
export async function verify(setup: RunSetup): Promise<VerifyOutcome> {
  const unreadableFindings = unreadableSource(setup);
  if (unreadableFindings) throw unreadable(unreadableFindings);
  return withSynapseAndMas(connectionsFor(setup, "verify"), async (synapse, masDb) => {
    const source = await synapse.openSource();
    await masDb.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    try {
      // The expected rows stay in this session's memory (temp_buffers, set before any temporary table is
      // used) and the comparisons' joins in work_mem rather than on disk: MAS's server, not this process.
      await masDb.query(`SET LOCAL temp_buffers = '${TEMP_BUFFERS}'`);
      await masDb.query(`SET LOCAL work_mem = '${WORK_MEM}'`);
      const schema = (await masDb.query<{ s: string }>("SELECT current_schema() AS s")).rows[0]?.s as string;
      const record: MigrationRecord | null = await readLatestRecord(masDb);
      // Before the temporary tables exist: they would hide MAS's user_passwords from its unqualified SQL.
      let started = performance.now();
      const passwords = await masPasswordVerifiability(setup.synapse, setup.mas, masDb);
      const passwordSeconds = (performance.now() - started) / 1000;
      const optional = (await probeMasSchema(masDb)).presentOptionalColumns;
      await createExpectedTables(masDb, schema, optional);
      // From here on MAS's own tables cannot be written, even by mistake: only the temporary ones.
      await masDb.query("SET TRANSACTION READ ONLY");
      started = performance.now();
      const readers = await synapse.openReaders();
      const since = record?.committedAt ?? null;
      const tables: TableComparison[] = [];
      const compareSeconds: VerifyOutcome["seconds"]["compare"] = {};
      const compare = async (table: MasTableName): Promise<void> => {
        const tableStarted = performance.now();
        await masDb.query(`ANALYZE pg_temp.${table}`);
        tables.push(await compareTable(masDb, table, schema, optional, since, setup.synapse.serverName));
        compareSeconds[table] = (performance.now() - tableStarted) / 1000;
      };
      let report: MigrationReport | null;
      let findings: Finding[];
      try {
        ({ findings, report } = await checkThenStream({
          setup,
          readers,
          source,
          masDb,
          destination: expectInto(masDb, compare),
          dryRun: true,
          checks: "readability",
          // Sessions ended (tokens expired) as of the migration's run, as its mappers judged them.
          now: record?.runStartedAt?.getTime(),
        }));
      } finally {
        await readers.close();
      }
      if (report === null) throw unreadable(findings);
      const seconds: VerifyOutcome["seconds"] = {
        passwords: passwordSeconds,
        expectedAndCompared: (performance.now() - started) / 1000,
        compare: compareSeconds,
      };
      return {
        record:
          record === null
            ? null
            : { committedAt: record.committedAt.toISOString(), toolVersion: record.toolVersion, counts: record.counts },
        tables,
        skipped: report.skipped,
        passwords,
        differs: tables.some((t) => t.missing.count + t.unexpected.count + t.different.count > 0),
        seconds,
      };
    } finally {
      await masDb.query("ROLLBACK").catch(() => undefined);
      await source.close();
    }
  });
}
