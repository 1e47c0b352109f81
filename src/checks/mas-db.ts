/** Rules over the MAS database: its schema, emptiness, the migration lock, synced providers. */
import { uuidToUlidText } from "../model/ids.ts";
import { authProvidersInUse } from "../source/postgres-stats.ts";
import {
  countNonEmptyTargets,
  existingProviderIds,
  NEWEST_TESTED_MAS_MIGRATION,
  probeMasSchema,
  tryLockForTransaction,
} from "../target/probe.ts";
import type { CheckContext } from "./context.ts";
import { finding, MAX_EXAMPLES, type Finding } from "./finding.ts";

export interface MasDbResult {
  findings: Finding[];
  /** Optional MAS columns present in the target (e.g. `user_emails.confirmed_at`). */
  presentOptionalColumns: Set<string>;
}

/** Findings about the MAS database; takes the migration lock for the context's transaction. */
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
async function providerRowRules(input: CheckContext, findings: Finding[]): Promise<void> {
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

