/**
 * Rules over the Synapse database: schema, user ids, orphans, providers, running sessions, and the
 * data that migrates with a caveat. Every count comes from SQL; examples are user ids, device ids
 * or provider names, never tokens or hashes.
 */
import { runOfApplicationName } from "../config/application-name.ts";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import {
  appserviceRowCounts,
  countRows,
  countRowsBatch,
  duplicateRows,
  sharedUpstreamSubjects,
  pendingBackgroundUpdates,
  type CountSample,
  type FindingParams,
  type FindingQuery,
} from "../source/findings-sql.ts";
import { authProvidersInUse, invalidUserIdRows, missingSynapseColumns, type RowSample } from "../source/synapse-stats.ts";
import type { Engine } from "../source/snapshot-readers.ts";
import type { CheckContext } from "./context.ts";
import { linkBlockingRules, mappingsWithoutLinks, usersWithoutLoginRule } from "./links.ts";
import { finding, MAX_EXAMPLES, type Finding, type FindingCode } from "./finding.ts";

/** What MAS wrote into Synapse while Synapse delegated authentication to it (MSC3861). */
export const OAUTH_DELEGATED = "oauth-delegated";

/** What the operator runs in Synapse to remove those rows (the same SQL on PostgreSQL and SQLite). */
export const DELETE_OAUTH_DELEGATED = `DELETE FROM user_external_ids WHERE auth_provider = ${sqlString(OAUTH_DELEGATED)};`;

function describeSamples(samples: RowSample[]): string {
  return samples.map((s) => `${s.table}: ${s.count}`).join(", ");
}

function sampleExamples(samples: RowSample[]): string[] {
  return samples.flatMap((s) => s.examples).slice(0, MAX_EXAMPLES);
}

/** A text as an SQL string literal. */
function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** A device id as a JSON string, with DEL and C1 controls escaped too, so that a terminal shows every character. */
function quoted(id: string): string {
  return JSON.stringify(id).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The `auth_provider` values the Synapse configuration defines: its OIDC providers, `cas`, `saml`, `jwt`. */
export function synapseAuthProviders(synapse: SynapseConfig): string[] {
  const ids = synapse.oidcProviders.map((p) => p.authProviderId);
  const sections: [string, string][] = [
    ["cas_config", "cas"],
    ["saml2_config", "saml"],
    ["jwt_config", "jwt"],
  ];
  for (const [key, id] of sections) if (Object.hasOwn(synapse.raw, key)) ids.push(id);
  return ids;
}

function sameIssuer(a: string, b: string): boolean {
  return a === b || a.replace(/\/+$/, "") === b.replace(/\/+$/, "");
}

/** What to do in the MAS configuration so that `authProvider` maps to a MAS provider. */
export function providerAdvice(authProvider: string, synapse: SynapseConfig, mas: MasConfig): string {
  const key = `\`synapse_idp_id: ${authProvider}\``;
  const fallback = `(or pass --upstream-provider-mapping ${authProvider}:<ULID>)`;
  const issuer = synapse.oidcProviders.find((p) => p.authProviderId === authProvider)?.raw.issuer;
  if (typeof issuer !== "string" || issuer === "") {
    return `Add ${key} to that provider under upstream_oauth2.providers in the MAS configuration ${fallback}.`;
  }
  const target = mas.upstreamProviders.find((p) => p.issuer !== undefined && sameIssuer(p.issuer, issuer));
  if (target === undefined) {
    return (
      `No MAS provider has Synapse's issuer ${issuer}: add a provider with that issuer and ${key} under ` +
      `upstream_oauth2.providers in the MAS configuration, then run mas-cli config sync ${fallback}.`
    );
  }
  const current = target.synapseIdpId === undefined ? "" : `, replacing synapse_idp_id: ${target.synapseIdpId}`;
  return (
    `Add ${key} to the provider with issuer ${target.issuer} (id ${target.id}${current}) in the MAS configuration, ` +
    `or pass --upstream-provider-mapping ${authProvider}:${target.id}.`
  );
}

/** SYNAPSE_SCHEMA_UNSUPPORTED: a table or column this tool reads is missing (nothing else can be checked then). */
export async function synapseSchemaRule(input: CheckContext): Promise<Finding[]> {
  const missing = await missingSynapseColumns(input.synapseDb);
  if (missing.length === 0) return [];
  return [
    finding(
      "SYNAPSE_SCHEMA_UNSUPPORTED",
      `The Synapse database lacks tables or columns this tool reads: ${missing.slice(0, 10).join(", ")}` +
        `${missing.length > 10 ? ", ..." : ""}. Is this a Synapse database? Upgrade Synapse (1.100 or later) and start it once.`,
      { count: missing.length, examples: missing.slice(0, MAX_EXAMPLES) },
    ),
  ];
}

/**
 * Findings about the Synapse data that can block a migration (errors); call once
 * {@link synapseSchemaRule} found nothing. Independent groups run concurrently (the snapshot may be
 * shared by several connections); their findings keep this order.
 */
export async function synapseBlockingRules(input: CheckContext): Promise<Finding[]> {
  const groups = await Promise.all(
    [invalidRowRules, duplicateRowRule, providerRules, linkRules, runningRule].map(async (rule) => {
      const found: Finding[] = [];
      await rule(input, found);
      return found;
    }),
  );
  return groups.flat();
}

/** Warnings and information about the Synapse data: never errors, so a migration need not wait for them. */
export async function synapseAdvisoryRules(input: CheckContext): Promise<Finding[]> {
  const found: Finding[] = [];
  const [, withoutLogin] = await Promise.all([dataRules(input, found), usersWithoutLoginRule(input)]);
  return [...found, ...withoutLogin];
}

/** LINK_COLLISION, LINK_SOURCE_UNUSED and LINK_FILE_UNMIGRATED_USERS (checks/links.ts). */
async function linkRules(input: CheckContext, findings: Finding[]): Promise<void> {
  findings.push(...(await linkBlockingRules(input)));
}

/** FOREIGN_USER_IDS and ORPHAN_ROWS: errors, or counted skips with --skip-invalid-rows. */
async function invalidRowRules(input: CheckContext, findings: Finding[]): Promise<void> {
  const { synapseDb: db, synapse } = input;
  const severity = input.skipInvalidRows ? "info" : "error";
  const skipHint = input.skipInvalidRows
    ? "They will be skipped and counted, as --skip-invalid-rows asks."
    : "Delete or fix them in Synapse, or pass --skip-invalid-rows to skip and count them.";
  const { foreign, orphans } = await invalidUserIdRows(db, synapse.serverName, MAX_EXAMPLES, input.onlyUsers);
  if (foreign.length > 0) {
    findings.push(
      finding(
        "FOREIGN_USER_IDS",
        `Rows whose user id is malformed or not on ${synapse.serverName} (${describeSamples(foreign)}). ${skipHint}`,
        { severity, count: foreign.reduce((a, s) => a + s.count, 0), examples: sampleExamples(foreign) },
      ),
    );
  }
  if (orphans.length > 0) {
    findings.push(
      finding("ORPHAN_ROWS", `Rows whose user has no row in Synapse's users table (${describeSamples(orphans)}). ${skipHint}`, {
        severity,
        count: orphans.reduce((a, s) => a + s.count, 0),
        examples: sampleExamples(orphans),
      }),
    );
  }
}

/**
 * DUPLICATE_ROWS: keys MAS needs unique shared by several rows (Synapse never writes them: its
 * constraints were dropped, or rows written by hand), or subjects that several Synapse providers
 * mapped to one MAS provider share.
 */
async function duplicateRowRule(input: CheckContext, findings: Finding[]): Promise<void> {
  const inSynapse = await duplicateRows(input.synapseDb, MAX_EXAMPLES);
  // Providers a --link or the link file also feeds are LINK_COLLISION's (their subjects are not the external ids).
  const viaMapping = await sharedUpstreamSubjects(input.synapseDb, await mappingsWithoutLinks(input), MAX_EXAMPLES);
  const duplicates = [...inSynapse, ...viaMapping];
  if (duplicates.length === 0) return;
  const causes = [
    inSynapse.length > 0
      ? "Synapse never writes such rows, so its unique constraints must have been dropped or the rows written by hand: " +
        "delete the duplicates in Synapse (and restore its unique constraints)."
      : "",
    viaMapping.length > 0
      ? "Several Synapse providers mapped to one MAS provider hold the same subject: map them to different MAS providers, " +
        "or delete the redundant user_external_ids rows in Synapse."
      : "",
  ].filter((c) => c !== "");
  findings.push(
    finding(
      "DUPLICATE_ROWS",
      `Rows share a key that MAS needs unique (rows per key: ${duplicates.map((d) => `${d.key}: ${d.count}`).join("; ")}); ` +
        `MAS would refuse them all at the end of the load. ${causes.join(" ")} Then run check again.`,
      {
        count: duplicates.reduce((sum, d) => sum + d.count, 0),
        examples: [...new Set(duplicates.flatMap((d) => d.examples))].sort().slice(0, MAX_EXAMPLES),
      },
    ),
  );
}

/** OAUTH_DELEGATED_IDS, UNKNOWN_AUTH_PROVIDER and PROVIDER_NOT_IN_MAS, over the external ids migrate would link. */
async function providerRules(input: CheckContext, findings: Finding[]): Promise<void> {
  const { synapseDb: db, synapse, mas } = input;
  // Each external id on its own: a delta's unchanged users' ids passed when the stage last ran.
  const used = await authProvidersInUse(db, synapse.serverName, input.onlyUsers);
  const delegated = used.get(OAUTH_DELEGATED);
  if (delegated !== undefined) {
    const { examples } = await countRows(db, "oauthDelegatedIds", findingParams(input), MAX_EXAMPLES);
    findings.push(
      finding(
        "OAUTH_DELEGATED_IDS",
        `${delegated} external ids have auth_provider "${OAUTH_DELEGATED}": MAS wrote them while Synapse delegated ` +
          "authentication to it (an earlier cut-over). They are not upstream provider links and must not be migrated. " +
          `Delete them in Synapse, then run check again: ${DELETE_OAUTH_DELEGATED}`,
        { count: delegated, examples },
      ),
    );
  }
  const defined = synapseAuthProviders(synapse);
  for (const [authProvider, count] of used) {
    // An auth_provider a --link names is known: the operator said where its users go.
    if (authProvider === OAUTH_DELEGATED || defined.includes(authProvider) || input.links?.has(authProvider)) continue;
    findings.push(
      finding(
        "UNKNOWN_AUTH_PROVIDER",
        `${count} external ids use auth_provider "${authProvider}", which the Synapse configuration ` +
          `(${synapse.files.join(", ")}) does not define (it defines: ${defined.join(", ") || "none"}). Either the provider ` +
          "was removed from Synapse or this is not the configuration Synapse runs with. If users still sign in with it, " +
          "add it to the Synapse configuration given to this tool (and map it in MAS); otherwise delete those rows in Synapse: " +
          `DELETE FROM user_external_ids WHERE auth_provider = ${sqlString(authProvider)};`,
        { count, examples: [authProvider] },
      ),
    );
  }
  for (const [authProvider, count] of used) {
    if (authProvider === OAUTH_DELEGATED || input.providers.has(authProvider) || input.links?.has(authProvider)) continue;
    findings.push(
      finding(
        "PROVIDER_NOT_IN_MAS",
        `${count} external ids use Synapse's auth_provider "${authProvider}", but no MAS provider has ` +
          `synapse_idp_id: ${authProvider}. ${providerAdvice(authProvider, synapse, mas)}`,
        { count, examples: [authProvider] },
      ),
    );
  }
}

/** What the other sessions SYNAPSE_RUNNING lists are, per engine. */
const RUNNING_SESSIONS: Record<Engine, (count: number, listed: string) => string> = {
  postgres: (count, listed) => `${count} other sessions are connected to the Synapse database (${listed}). `,
  sqlite: (_, listed) =>
    `Synapse's SQLite database is in use or was not closed cleanly (${listed}). A -wal file that still holds changes ` +
    "after Synapse stopped means it crashed: start it once and stop it cleanly. ",
};

/**
 * SYNAPSE_RUNNING, for a real migration only. This tool's own sessions (named by their
 * application_name) are not Synapse's: another real `migrate` reading Synapse is MIGRATION_RUNNING
 * (even with --ignore-synapse-running: it is not idle); a `check` or a dry run only reads Synapse,
 * so it cannot change what this run reads, and is left alone (on MAS, the migration lock decides).
 */
async function runningRule(input: CheckContext, findings: Finding[]): Promise<void> {
  if (!input.realRun) return;
  const others = await input.synapseDb.otherSessions(input.ownSynapsePids ?? []);
  const migrations = others.filter((s) => runOfApplicationName(s.applicationName) === "migrate").map((s) => s.who);
  if (migrations.length > 0) {
    findings.push(
      finding(
        "MIGRATION_RUNNING",
        `Another syn2mas migration is reading this Synapse database right now (${migrations.slice(0, MAX_EXAMPLES).join(", ")}). ` +
          "Wait for it to finish; do not run two at once.",
        { count: migrations.length, examples: migrations.slice(0, MAX_EXAMPLES) },
      ),
    );
  }
  const synapseSessions = others.filter((s) => runOfApplicationName(s.applicationName) === undefined).map((s) => s.who);
  if (synapseSessions.length === 0 || input.allowRunningSynapse) return;
  const listed = synapseSessions.slice(0, MAX_EXAMPLES).join(", ");
  findings.push(
    finding(
      "SYNAPSE_RUNNING",
      RUNNING_SESSIONS[input.synapseDb.dialect.engine](synapseSessions.length, listed) +
        "Stop Synapse and its workers before migrating, or pass --ignore-synapse-running if you know they are idle.",
      { count: synapseSessions.length, examples: synapseSessions.slice(0, MAX_EXAMPLES) },
    ),
  );
}

/** The server name and the time sessions are judged ended at, as the finding queries bind them. */
function findingParams(input: CheckContext): FindingParams {
  return { serverName: input.synapse.serverName, now: input.now ?? Date.now() };
}

/** A finding per count: reported when the count is not zero. */
interface CountRule {
  code: FindingCode;
  query: FindingQuery;
  message: (n: number, examples: string[]) => string;
  /** Only run the query when this holds. */
  when?: (input: CheckContext) => boolean;
}

const COUNT_RULES: CountRule[] = [
  {
    code: "PASSWORDS_DISABLED",
    query: "passwordHashes",
    when: (input) => !input.mas.passwordsEnabled,
    message: (n) =>
      `MAS has passwords.enabled: false, but ${n} Synapse users have a password hash: it is migrated, yet they cannot ` +
      "log in with it and are locked out unless they have an upstream provider. Set passwords.enabled: true in the MAS configuration, or accept this.",
  },
  {
    code: "UNUSABLE_PASSWORD_HASHES",
    query: "unusablePasswordHashes",
    message: (n) =>
      `${n} users have a password hash that is not a bcrypt hash MAS can verify (such as \`x\`, another scheme's ` +
      "hash like argon2, or a damaged one): MAS would never accept it, so these users are migrated without a password " +
      "and must reset it or sign in another way (an upstream provider).",
  },
  {
    code: "GUEST_USERS",
    query: "guestUsers",
    message: (n) =>
      `${n} guest accounts: they are migrated with is_guest, but MAS cannot serve guests and their devices and tokens ` +
      "are not migrated (MAS has no guest sessions).",
  },
  {
    code: "NON_EMAIL_THREEPIDS",
    query: "nonEmailThreepids",
    message: (n) =>
      `${n} third-party ids that are not emails (phone numbers, ...): MAS has no use for them; they are kept in ` +
      "user_unsupported_third_party_ids.",
  },
  {
    code: "MACAROON_TOKENS",
    query: "macaroonTokens",
    message: (n) =>
      `${n} access tokens in the pre-2021 macaroon format (not syt_...): they are migrated, but MAS rejects them, ` +
      "so those clients must log in again.",
  },
  {
    code: "NULL_CREATION_TS",
    query: "nullCreationTs",
    message: (n) =>
      `${n} users have no creation time (users.creation_ts is NULL): they, and their passwords and links, get the ` +
      "migration's start time as their creation time.",
  },
  {
    code: "UNUSUAL_LOCALPARTS",
    query: "unusualLocalparts",
    message: (n) =>
      `${n} users have a localpart outside the Matrix user id grammar (a-z, 0-9 and ._=-/+; e.g. upper case): they ` +
      "are migrated verbatim as MAS usernames. Check that MAS and your clients handle them.",
  },
  {
    code: "UNENCODABLE_DEVICE_IDS",
    query: "unencodableDeviceIds",
    message: (n, examples) =>
      `${n} device ids contain a space, ", \\, a control or a non-ASCII character, which an OAuth scope token cannot ` +
      "carry: MAS stores them, but cannot put them in the device scope it hands the homeserver, so those sessions may " +
      `stop working. ${n > examples.length ? "The first ones" : "They"}: ${examples.map(quoted).join(", ")}.`,
  },
  {
    code: "SESSION_LIMIT_NOT_ENFORCED",
    query: "sessionLimitNotEnforced",
    message: (n) =>
      `${n} refresh tokens belong to sessions with a hard limit still ahead (refresh_tokens.ultimate_session_expiry_ts): ` +
      "they are migrated, but MAS has no hard lifetime for compat sessions, so those sessions can outlive it. " +
      "Accept this, or end those sessions in MAS once their limit passes.",
  },
  {
    code: "ENDED_SESSIONS",
    query: "endedSessions",
    message: (n) =>
      `${n} refresh tokens (with their access tokens) belong to sessions Synapse has already ended: the refresh token ` +
      "expired or the session's hard limit passed. They are not migrated (MAS's compat refresh tokens never expire, " +
      "so they would bring those sessions back); those clients must log in again, as they would have to in Synapse.",
  },
  {
    code: "UNPARSABLE_DEVICE_IPS",
    query: "unparsableDeviceIps",
    message: (n) => `${n} devices have a last-seen IP that is not an IP literal: stored as NULL (last_active_ip).`,
  },
  {
    code: "PUPPET_TOKENS",
    query: "puppetTokens",
    message: (n) => `${n} admin impersonation (puppet) access tokens: not migrated.`,
  },
  {
    code: "DEVICELESS_TOKENS",
    query: "devicelessTokens",
    message: (n) => `${n} access tokens without a device: each becomes its own compat session, without a device id.`,
  },
];

/** The time columns migrate converts, with what it does with a value MAS cannot hold (mapping/time.ts). */
const TIME_COLUMNS: { query: FindingQuery; column: string; treatment: string }[] = [
  {
    query: "outOfRangeCreationTs",
    column: "users.creation_ts",
    treatment: "taken as milliseconds when it is a valid time in milliseconds, else unknown: the migration's start time",
  },
  { query: "outOfRangeAddedAt", column: "user_threepids.added_at", treatment: "unknown: the user's creation time" },
  { query: "outOfRangeLastSeen", column: "devices.last_seen", treatment: "unknown: last_active_at NULL" },
  {
    query: "outOfRangeValidUntil",
    column: "access_tokens.valid_until_ms",
    treatment: "beyond the year 9999: no expiry; negative: expired (1970-01-01)",
  },
  { query: "outOfRangeLastValidated", column: "access_tokens.last_validated", treatment: "unknown: the migration's start time" },
];

/** OUT_OF_RANGE_TIMESTAMPS: one finding for every time column, from their samples (in TIME_COLUMNS order). */
function outOfRangeFinding(samples: CountSample[]): Finding | undefined {
  const parts = TIME_COLUMNS.flatMap((c, i) => {
    const n = samples[i]?.count ?? 0;
    return n > 0 ? [`${c.column}: ${n} (${c.treatment})`] : [];
  });
  if (parts.length === 0) return undefined;
  const count = samples.reduce((sum, sample) => sum + sample.count, 0);
  const examples = [...new Set(samples.flatMap((sample) => sample.examples))].sort().slice(0, MAX_EXAMPLES);
  return finding(
    "OUT_OF_RANGE_TIMESTAMPS",
    `${count} times in migrated rows lie outside what MAS can hold (before 1970 or after the year 9999; ` +
      `a creation time in milliseconds where Synapse keeps seconds): ${parts.join("; ")}. ` +
      "Fix them in Synapse first if you know the right values, or accept this.",
    { count, examples },
  );
}

/** Warnings and information about data that migrates with a caveat, or not at all. */
async function dataRules(input: CheckContext, findings: Finding[]): Promise<void> {
  const { synapseDb: db, synapse } = input;
  const push = (code: FindingCode, message: string, sample: CountSample): void => {
    findings.push(finding(code, message, { count: sample.count, examples: sample.examples }));
  };
  const updates = await pendingBackgroundUpdates(db, MAX_EXAMPLES);
  if (updates.count > 0) {
    push(
      "PENDING_BACKGROUND_UPDATES",
      `Synapse has ${updates.count} unfinished background updates (background_updates is not empty); some fill ` +
        "columns this tool reads. Start Synapse and let it finish them, then stop it and run check again.",
      updates,
    );
  }
  const applicable = COUNT_RULES.filter((rule) => rule.when === undefined || rule.when(input));
  const [appservice, ...samples] = await countRowsBatch(
    db,
    ["appserviceUsers", ...applicable.map((rule) => rule.query), ...TIME_COLUMNS.map((c) => c.query)],
    findingParams(input),
    MAX_EXAMPLES,
  );
  applicable.forEach((rule, i) => {
    const sample = samples[i] as CountSample;
    if (sample.count > 0) push(rule.code, rule.message(sample.count, sample.examples), sample);
  });
  const outOfRange = outOfRangeFinding(samples.slice(applicable.length));
  if (outOfRange !== undefined) findings.push(outOfRange);
  if (appservice !== undefined && appservice.count > 0) {
    const rows = Object.entries(await appserviceRowCounts(db, synapse.serverName))
      .filter(([, n]) => n > 0)
      .map(([table, n]) => `${table}: ${n}`);
    push(
      "APPSERVICE_USERS",
      `${appservice.count} application-service users: not migrated, MAS does not own them` +
        `${rows.length > 0 ? `; neither are their rows (${rows.join(", ")})` : ""}.`,
      appservice,
    );
  }
}
