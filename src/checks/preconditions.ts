/** The checks that must pass before a migration writes anything. Each rule returns findings; none throws for one. */
import type pg from "pg";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import type { MasId } from "../model/ids.ts";
import { uuidToUlidText } from "../model/ids.ts";
import {
  authProvidersInUse,
  foreignUserIdRows,
  missingSynapseColumns,
  orphanRows,
  otherSessions,
  type RowSample,
} from "../source/postgres-stats.ts";
import {
  countNonEmptyTargets,
  existingProviderIds,
  NEWEST_TESTED_MAS_MIGRATION,
  probeMasSchema,
  tryLockForTransaction,
} from "../target/probe.ts";
import { finding, MAX_EXAMPLES, type Finding } from "./finding.ts";

export interface PreconditionInput {
  synapse: SynapseConfig;
  mas: MasConfig;
  /** auth_provider -> MAS provider id, from the MAS config and the command line. */
  providers: ReadonlyMap<string, MasId>;
  /** Inside the Synapse snapshot. */
  synapseDb: pg.ClientBase;
  /** Inside the MAS transaction (the lock taken here lasts until it ends). */
  masDb: pg.ClientBase;
  /** A real run (not a dry run): Synapse must not be running. */
  realRun: boolean;
  allowRunningSynapse: boolean;
  /** Foreign user ids and orphan rows become counted skips instead of errors. */
  skipInvalidRows: boolean;
}

export interface PreconditionResult {
  findings: Finding[];
  /** Optional MAS columns present in the target (e.g. `user_emails.confirmed_at`). */
  presentOptionalColumns: Set<string>;
}

function describeSamples(samples: RowSample[]): string {
  return samples.map((s) => `${s.table}: ${s.count}`).join(", ");
}

function sampleExamples(samples: RowSample[]): string[] {
  return samples.flatMap((s) => s.examples).slice(0, MAX_EXAMPLES);
}

/** Checks of the two configurations against each other. */
export function configRules(synapse: SynapseConfig, mas: MasConfig): Finding[] {
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

async function masRules(input: PreconditionInput, result: PreconditionResult): Promise<void> {
  const { masDb, findings } = { masDb: input.masDb, findings: result.findings };
  const schema = await probeMasSchema(masDb);
  if (!schema.hasMigrationsTable) {
    findings.push(
      finding(
        "MAS_SCHEMA_MISSING",
        "The MAS database has no _sqlx_migrations table: MAS's schema was never created there. " +
          "Run `mas-cli database migrate` (or `mas-cli config sync`) against it first, or check the MAS database settings.",
      ),
    );
    return;
  }
  result.presentOptionalColumns = schema.presentOptionalColumns;
  if (schema.missingColumns.length > 0 || !schema.hasProvidersTable) {
    const missing = [...schema.missingColumns, ...(schema.hasProvidersTable ? [] : ["upstream_oauth_providers"])];
    findings.push(
      finding(
        "MAS_SCHEMA_UNSUPPORTED",
        `The MAS schema lacks what this tool writes: ${missing.join(", ")}. Upgrade MAS and run \`mas-cli database migrate\`.`,
        { count: missing.length, examples: missing.slice(0, MAX_EXAMPLES) },
      ),
    );
    return;
  }
  if (schema.newestMigration !== null && schema.newestMigration > NEWEST_TESTED_MAS_MIGRATION) {
    findings.push(
      finding(
        "MAS_SCHEMA_NEWER",
        `The MAS schema has migration ${schema.newestMigration}, newer than the newest this tool was tested with ` +
          `(${NEWEST_TESTED_MAS_MIGRATION}); every column it writes is present. Check the release notes of syn2mas.`,
      ),
    );
  }
  if (!(await tryLockForTransaction(masDb))) {
    findings.push(
      finding(
        "MIGRATION_RUNNING",
        "Another syn2mas migration is writing to this MAS database right now. Wait for it to finish; do not run two at once.",
      ),
    );
    return;
  }
  const nonEmpty = await countNonEmptyTargets(masDb);
  if (nonEmpty.size > 0) {
    const list = [...nonEmpty].map(([t, n]) => `${t} (${n} rows)`);
    findings.push(
      finding(
        "MAS_NOT_EMPTY",
        `The MAS database already holds data in ${list.join(", ")}. Migrate into a freshly created MAS database ` +
          `(drop and recreate it, then run \`mas-cli database migrate\` and \`mas-cli config sync\`).`,
        { count: [...nonEmpty.values()].reduce((a, b) => a + b, 0), examples: list.slice(0, MAX_EXAMPLES) },
      ),
    );
  }
  await providerRowRules(input, findings);
}

/** Every MAS provider an external id will point at must exist as a row (written by `mas-cli config sync`). */
async function providerRowRules(input: PreconditionInput, findings: Finding[]): Promise<void> {
  const used = await authProvidersInUse(input.synapseDb, input.synapse.serverName);
  const targets = [...used.keys()].flatMap((p) => {
    const id = input.providers.get(p);
    return id === undefined ? [] : [{ authProvider: p, id }];
  });
  const present = await existingProviderIds(input.masDb, targets.map((t) => t.id));
  for (const target of targets.filter((t) => !present.has(t.id))) {
    findings.push(
      finding(
        "PROVIDER_NOT_SYNCED",
        `The MAS provider ${uuidToUlidText(target.id)} (for Synapse's ${target.authProvider}) has no row in upstream_oauth_providers. ` +
          "Run `mas-cli config sync` with this MAS configuration before migrating.",
        { count: used.get(target.authProvider), examples: [target.authProvider] },
      ),
    );
  }
}

async function synapseRules(input: PreconditionInput, findings: Finding[]): Promise<void> {
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

/** Runs every precondition. Config findings first, then Synapse's database, then MAS's. */
export async function runPreconditions(input: PreconditionInput): Promise<PreconditionResult> {
  const result: PreconditionResult = { findings: configRules(input.synapse, input.mas), presentOptionalColumns: new Set() };
  if (result.findings.some((f) => f.code === "UNSUPPORTED_DATABASE")) return result;
  await synapseRules(input, result.findings);
  if (result.findings.some((f) => f.code === "SYNAPSE_SCHEMA_UNSUPPORTED")) return result;
  await masRules(input, result);
  return result;
}
