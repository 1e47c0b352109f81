/** Rules over the MAS database: its schema, emptiness, the migration lock, synced providers. */
import { LINK_FILE_SOURCE, LOCALPART_SOURCE } from "../model/link-rule.ts";
import { uuidToUlidText } from "../model/ids.ts";
import { authProvidersInUse } from "../source/synapse-stats.ts";
import { stagedLinkProviders } from "../target/stage.ts";
import {
  MAS_MIGRATIONS,
  MAS_RELEASES,
  readMigrationHistory,
  type MasMigration,
  type MigrationHistory,
} from "../target/mas-migrations.ts";
import { readLatestRecord, type MigrationRecord } from "../target/migration-record.ts";
import {
  countNonEmptyTargets,
  existingProviderIds,
  isSynapseDatabase,
  migrationLockHeld,
  NEWEST_TESTED_MAS_MIGRATION,
  probeMasSchema,
  someMasUsernames,
  tryLockForTransaction,
  uncheckedMigrationKeys,
} from "../target/probe.ts";
import type { CheckContext } from "./context.ts";
import { finding, MAX_EXAMPLES, type Finding } from "./finding.ts";

export interface MasDbResult {
  findings: Finding[];
  /** Optional MAS columns present in the target (e.g. `user_emails.confirmed_at`). */
  presentOptionalColumns: Set<string>;
}

/** How to get a MAS database whose schema this tool can trust. */
const RECREATE_MAS =
  "Restore MAS's database from a backup, or drop it, recreate it empty and run `mas-cli database migrate` (then `mas-cli config sync`).";

/**
 * MAS_SCHEMA_MISSING when the MAS settings point at Synapse's database (or a copy of it): checked
 * before anything else, since every other finding about either database would be beside the point.
 */
export async function masIsSynapseRule(input: Pick<CheckContext, "masDb">): Promise<Finding[]> {
  if (!(await isSynapseDatabase(input.masDb))) return [];
  return [
    finding(
      "MAS_SCHEMA_MISSING",
      "The MAS database is Synapse's database, not MAS's: it holds Synapse's tables (schema_version, event_json, " +
        "room_memberships). Point database.uri in the MAS configuration at MAS's own database.",
    ),
  ];
}

/**
 * Findings about the MAS database. A run that writes MAS takes the migration lock for the
 * context's transaction; `check` only looks whether a migration holds it.
 */
export async function masDbRules(input: CheckContext): Promise<MasDbResult> {
  const result: MasDbResult = { findings: [], presentOptionalColumns: new Set() };
  await masRules(input, result);
  return result;
}

async function masRules(input: CheckContext, result: MasDbResult): Promise<void> {
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
  const history = readMigrationHistory(schema.migrations);
  const partial = partialHistoryFinding(history, schema.migrations.length);
  if (partial) {
    findings.push(partial);
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
  const { unknown } = history;
  if (unknown.length > 0) {
    findings.push(
      finding(
        "MAS_SCHEMA_NEWER",
        `The MAS schema has ${unknown.length} migrations this tool was not tested with (newest ${unknown[unknown.length - 1]}; ` +
          `the newest tested is ${NEWEST_TESTED_MAS_MIGRATION}, MAS ${MAS_RELEASES[MAS_RELEASES.length - 1]}); every column it writes ` +
          "is present. Check the release notes of syn2mas.",
        { count: unknown.length, examples: unknown.slice(0, MAX_EXAMPLES).map(String) },
      ),
    );
  }
  const otherMigration = input.writesMas ? !(await tryLockForTransaction(masDb)) : await migrationLockHeld(masDb);
  if (otherMigration) {
    findings.push(
      finding(
        "MIGRATION_RUNNING",
        "Another syn2mas migration is writing to this MAS database right now. Wait for it to finish; do not run two at once.",
      ),
    );
    return;
  }
  const record = await readLatestRecord(masDb);
  if (record !== null) findings.push(await alreadyMigrated(record, masDb));
  // A recorded migration explains MAS's rows: ALREADY_MIGRATED says so instead of MAS_NOT_EMPTY.
  const nonEmpty = record === null ? await countNonEmptyTargets(masDb) : new Map<string, number>();
  if (nonEmpty.size > 0) {
    const users = nonEmpty.get("users") ?? 0;
    const tables = [...nonEmpty].map(([t, n]) => `${t} (${n} rows)`);
    findings.push(
      finding(
        "MAS_NOT_EMPTY",
        `The MAS database is not empty: it has ${users} users, and rows in ${tables.join(", ")}. Migrate into a freshly created ` +
          "MAS database (drop and recreate it, then run `mas-cli database migrate` and `mas-cli config sync`).",
        // Counted and shown as users, what an operator recognises; the tables are in the message.
        { count: users, examples: users > 0 ? await someMasUsernames(masDb, MAX_EXAMPLES) : [] },
      ),
    );
  }
  await providerRowRules(input, findings);
}

/**
 * ALREADY_MIGRATED: MAS holds this tool's record of a committed migration. Said instead of
 * MAS_NOT_EMPTY, because what to do differs: nothing, or roll it back before migrating again.
 */
async function alreadyMigrated(record: MigrationRecord, masDb: CheckContext["masDb"]): Promise<Finding> {
  const users = record.counts.users ?? 0;
  const unchecked = await uncheckedMigrationKeys(masDb);
  const toDo =
    unchecked.length === 0
      ? "there is nothing to do (run `syn2mas verify` to compare it with Synapse)"
      : `its cut-over stopped before it had checked ${unchecked.length} foreign keys: run \`syn2mas migrate\` again to check them`;
  return finding(
    "ALREADY_MIGRATED",
    `MAS already holds a migration: syn2mas ${record.toolVersion} committed it at ${record.committedAt.toISOString()} ` +
      `(${users} users). If that is this migration, ${toDo}. ` +
      "To migrate again, run `syn2mas rollback` first: it removes that migration's rows, and refuses while users have moved in.",
    { count: users, examples: await someMasUsernames(masDb, MAX_EXAMPLES) },
  );
}

/** `version description`, for a finding's examples. */
function describeMigration(m: Pick<MasMigration, "version" | "description">): string {
  return `${m.version} ${m.description}`;
}

/**
 * MAS_SCHEMA_UNSUPPORTED when `_sqlx_migrations` is not the history of a MAS release: a migration
 * that failed part-way, or rows missing (deleted, or a MAS older than 1.0.0). The columns alone
 * cannot tell: a half-applied or hand-edited schema may still have every column this tool writes.
 */
function partialHistoryFinding(history: MigrationHistory, recordedRows: number): Finding | undefined {
  if (history.failed.length > 0) {
    const failed = history.failed.map(
      (v) => MAS_MIGRATIONS.find((m) => m.version === v) ?? { version: v, description: "(unknown)" },
    );
    return finding(
      "MAS_SCHEMA_UNSUPPORTED",
      `MAS's _sqlx_migrations records ${failed.length} migrations as failed (success = false), first ` +
        `${describeMigration(failed[0] as (typeof failed)[number])}: a schema change stopped part-way (sqlx, which \`mas-cli database migrate\` runs, refuses to go on from there). ${RECREATE_MAS}`,
      { count: failed.length, examples: failed.slice(0, MAX_EXAMPLES).map(describeMigration) },
    );
  }
  if (history.missing.length === 0) return undefined;
  const { missing, release } = history;
  const shown = missing.slice(0, 3).map(describeMigration).join(", ");
  const what =
    recordedRows === 0
      ? `MAS's _sqlx_migrations is empty: none of the ${missing.length} migrations of MAS ${release} is recorded`
      : `MAS's _sqlx_migrations lacks ${missing.length} of the ${history.expected} ` +
        `migrations of MAS ${release} (the oldest release with every migration it records): ${shown}${missing.length > 3 ? ", ..." : ""}`;
  return finding(
    "MAS_SCHEMA_UNSUPPORTED",
    `${what}. Its schema history was cut or edited (or MAS is older than 1.0.0), so its tables cannot be trusted to be ` +
      `MAS's. ${RECREATE_MAS}`,
    { count: missing.length, examples: missing.slice(0, MAX_EXAMPLES).map(describeMigration) },
  );
}

/** Every MAS provider an external id will point at must exist as a row (written by `mas-cli config sync`). */
async function providerRowRules(input: CheckContext, findings: Finding[]): Promise<void> {
  const used = await authProvidersInUse(input.synapseDb, input.synapse.serverName, input.onlyUsers);
  // A --link rule's provider wins over the mapped one for its auth_provider; a localpart rule links users, not ids.
  const targets = [...used.keys()].flatMap((p) => {
    const id = input.links?.get(p)?.providerId ?? input.providers.get(p);
    return id === undefined ? [] : [{ authProvider: p, id, label: `Synapse's ${p}` }];
  });
  const localpart = input.links?.get(LOCALPART_SOURCE);
  if (localpart !== undefined)
    targets.push({ authProvider: LOCALPART_SOURCE, id: localpart.providerId, label: `--link ${localpart.flag}` });
  const fileProviders = new Set([...(input.fileLinks?.byUser.values() ?? [])].flat().map((r) => r.providerId));
  for (const id of fileProviders)
    targets.push({ authProvider: LINK_FILE_SOURCE, id, label: `--link-file ${input.fileLinks?.path}` });
  // A delta reads only some users: the providers the stage's other links point at must exist too.
  if (input.onlyUsers !== undefined) {
    const named = new Set(targets.map((t) => t.id));
    for (const id of await stagedLinkProviders(input.masDb)) {
      if (!named.has(id)) targets.push({ authProvider: "", id, label: "the stage's upstream links" });
    }
  }
  const present = await existingProviderIds(
    input.masDb,
    targets.map((t) => t.id),
  );
  for (const target of targets.filter((t) => !present.has(t.id))) {
    findings.push(
      finding(
        "PROVIDER_NOT_SYNCED",
        `The MAS provider ${uuidToUlidText(target.id)} (for ${target.label}) has no row in upstream_oauth_providers. ` +
          "Run `mas-cli config sync` with this MAS configuration before migrating.",
        {
          ...(used.has(target.authProvider) ? { count: used.get(target.authProvider) } : {}),
          examples: target.authProvider ? [target.authProvider] : [],
        },
      ),
    );
  }
}
