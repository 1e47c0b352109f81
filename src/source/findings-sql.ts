/**
 * The Synapse-data counts behind the check findings, written once for both engines in the
 * spelling of the snapshot's dialect (SqlDialect; one pattern match SQLite cannot do in SQL is the
 * engine's, see SynapseQueries.countUnparsableIps). Each is one aggregate query
 * plus up to `limit` examples (user ids or device ids, never tokens, hashes or addresses), and
 * each counts only the rows `migrate` would handle the way the finding describes (see the
 * mapping modules): owners must be local, exist, and not belong to an application service.
 */
import type { CountSample, SqlDialect, SynapseQueries } from "./snapshot-readers.ts";
import { sqlIsUsableBcryptHash } from "../model/password-hash.ts";
import { sqlIsLocalUserId } from "../model/user-id.ts";
import { sqlOnlyCharsOf } from "../model/sql-charset.ts";
import { MAX_MAS_TIME_MS, MAX_MAS_TIME_S } from "../model/mas-time.ts";

export type { CountSample };

/** `FROM` and `WHERE` of a count (`$1` is the server name, `$2` the run's time) and the text column examples come from. */
interface CountQuery {
  from: string;
  where: string;
  example: string;
  /**
   * A condition on one table of `from` alone that every counted row meets: when no row of that
   * table meets it, the count is 0 without the joins (one cheap scan instead of a join over
   * every token, 0.15 s instead of about 3 s at 1M users).
   */
  candidate?: { from: string; where: string };
  /**
   * The engine counts these rows itself (its dialect cannot say the test in SQL, see
   * SynapseQueries.countUnparsableIps): `where` selects the rows it judges.
   */
  judgedByEngine?: true;
}

/**
 * {@link sessionEnded}: refresh token `r`'s expiry or its session's hard limit lies before `now`.
 * Never NULL (a NULL expiry is "never"), so that it can be negated.
 */
export function sqlSessionEnded(r: string, now: string): string {
  return `((${r}.expiry_ts IS NOT NULL AND ${r}.expiry_ts < ${now})
      OR (${r}.ultimate_session_expiry_ts IS NOT NULL AND ${r}.ultimate_session_expiry_ts < ${now}))`;
}

/** Candidates over the access tokens alone. */
const TOKEN_CANDIDATE = (where: string): CountQuery["candidate"] => ({ from: "access_tokens a", where });

/** The owner `u` is migrated: the reader (read-rows.ts) treats an empty appservice_id as none. */
const NOT_APPSERVICE = "nullif(u.appservice_id, '') IS NULL";
/** mapping/owner.ts sessionOwnerSkip: guests' and deactivated users' sessions are not migrated (non-zero flags, as decodeFlag). */
const HAS_SESSIONS = "coalesce(CAST(u.is_guest AS integer), 0) = 0 AND coalesce(CAST(u.deactivated AS integer), 0) = 0";
/**
 * Tokens with their owner, refresh token, device (`d`, NULLs when none) and whether the refresh
 * token's successor was used (`used_next`): plain joins, so that several counts share one scan.
 */
const TOKENS = `access_tokens a JOIN users u ON u.name = a.user_id
  LEFT JOIN refresh_tokens r ON r.id = a.refresh_token_id
  LEFT JOIN devices d ON d.user_id = a.user_id AND d.device_id = a.device_id
  LEFT JOIN (SELECT DISTINCT refresh_token_id FROM access_tokens WHERE used IS TRUE AND refresh_token_id IS NOT NULL) used_next
    ON used_next.refresh_token_id = r.next_token_id`;
/** A refresh pair the client already replaced (mapping/devices.ts tokenSkip): dropped. */
const SUPERSEDED = "(r.next_token_id IS NOT NULL AND used_next.refresh_token_id IS NOT NULL)";
/**
 * Where a token's own reason (tokenSkip: puppet, superseded, ended) is the one migrate counts: on
 * no device or a missing one (mapLooseToken judges the token before its owner), or on a device
 * that is kept (mapDevice judges the device first).
 */
const OWN_REASON_COUNTS = `(a.device_id IS NULL OR d.device_id IS NULL OR (${HAS_SESSIONS} AND d.hidden IS NOT TRUE))`;
/** A time column holding a value MAS cannot hold as it is (mapping/time.ts): below 0 or above `max`. */
function outOfRange(column: string, max: number): string {
  return `(${column} IS NOT NULL AND (${column} < 0 OR ${column} > ${max}))`;
}
/** Characters an OAuth scope token may carry: %x21 / %x23-5B / %x5D-7E (no space, `"`, `\`, control or non-ASCII). */
const SCOPE_TOKEN_CHARS = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i))
  .filter((c) => c !== '"' && c !== "\\")
  .join("");

/** The finding queries in dialect `d`'s spelling (`$1`, as it spells it, is the server name, `$2` the run's time). */
function buildFindingQueries(d: SqlDialect) {
  /**
   * The owner `u` is local and migrated. Tested on `u.name`, which the joins make equal to the row's
   * user id: PostgreSQL cannot estimate the test, and judging it on the joined side keeps hash joins.
   */
  const LOCAL_OWNER = `${sqlIsLocalUserId("u.name", d.param(1), d)} AND ${NOT_APPSERVICE}`;
  /** A refresh pair whose session Synapse ended before the run's time `$2` (mapping/devices.ts sessionEnded): dropped. */
  const ENDED = `(r.id IS NOT NULL AND ${sqlSessionEnded("r", d.param(2))})`;
  /** An access token migrate writes: on a visible device or on none, not a puppet, not superseded, not ended. */
  const WRITTEN_TOKEN = `${LOCAL_OWNER} AND ${HAS_SESSIONS} AND a.puppets_user_id IS NULL
    AND NOT ${SUPERSEDED} AND NOT ${ENDED} AND (a.device_id IS NULL OR (d.device_id IS NOT NULL AND d.hidden IS NOT TRUE))`;
  /** A device migrate turns into a compat session. */
  const DEVICES = "devices d JOIN users u ON u.name = d.user_id";
  const WRITTEN_DEVICE = `${LOCAL_OWNER} AND ${HAS_SESSIONS} AND d.hidden IS NOT TRUE`;

  return {
    guestUsers: { from: "users u", where: `${LOCAL_OWNER} AND coalesce(CAST(u.is_guest AS integer), 0) <> 0`, example: "u.name" },
    appserviceUsers: {
      from: "users u",
      where: `${sqlIsLocalUserId("u.name", d.param(1), d)} AND NOT ${NOT_APPSERVICE}`,
      example: "u.name",
    },
    nullCreationTs: { from: "users u", where: `${LOCAL_OWNER} AND u.creation_ts IS NULL`, example: "u.name" },
    // The Matrix user id grammar: lower-case ASCII letters, digits and ._=-/+ (localpart up to the first colon).
    unusualLocalparts: {
      from: "users u",
      where: `${LOCAL_OWNER} AND NOT ${sqlOnlyCharsOf(`substr(u.name, 2, ${d.strpos("u.name", "':'")} - 2)`, "abcdefghijklmnopqrstuvwxyz0123456789._=/+-", d.engine)}`,
      example: "u.name",
    },
    // mapping/users.ts: a hash MAS can verify becomes a user_passwords row.
    passwordHashes: {
      from: "users u",
      where: `${LOCAL_OWNER} AND ${sqlIsUsableBcryptHash("u.password_hash", d.engine)}`,
      example: "u.name",
    },
    // mapping/users.ts: any other non-empty hash is left behind (unusable_password_hash).
    unusablePasswordHashes: {
      from: "users u",
      where: `${LOCAL_OWNER} AND u.password_hash <> '' AND NOT ${sqlIsUsableBcryptHash("u.password_hash", d.engine)}`,
      example: "u.name",
    },
    // mapping/threepids.ts: unsupported ids of deactivated users are dropped.
    nonEmailThreepids: {
      from: "user_threepids t JOIN users u ON u.name = t.user_id",
      where: `${LOCAL_OWNER} AND t.medium <> 'email' AND coalesce(CAST(u.deactivated AS integer), 0) = 0`,
      example: "t.user_id",
    },
    oauthDelegatedIds: {
      from: "user_external_ids e JOIN users u ON u.name = e.user_id",
      where: `${LOCAL_OWNER} AND e.auth_provider = 'oauth-delegated'`,
      example: "e.user_id",
    },
    macaroonTokens: {
      from: TOKENS,
      where: `${WRITTEN_TOKEN} AND substr(a.token, 1, 4) <> 'syt_'`,
      example: "a.user_id",
      candidate: TOKEN_CANDIDATE("substr(a.token, 1, 4) <> 'syt_'"),
    },
    // mapping/tokens.ts mapLooseToken: each becomes its own session.
    devicelessTokens: {
      from: TOKENS,
      where: `${WRITTEN_TOKEN} AND a.device_id IS NULL`,
      example: "a.user_id",
      candidate: TOKEN_CANDIDATE("a.device_id IS NULL"),
    },
    // mapping/devices.ts and tokens.ts: a puppet token counts as such unless its (visible) device's owner
    // is a guest or deactivated, or its device is hidden: then it is skipped for that reason instead.
    puppetTokens: {
      from: TOKENS,
      where: `${LOCAL_OWNER} AND a.puppets_user_id IS NOT NULL AND ${OWN_REASON_COUNTS}`,
      example: "a.user_id",
      candidate: TOKEN_CANDIDATE("a.puppets_user_id IS NOT NULL"),
    },
    // mapping/devices.ts tokenSkip: the refresh pairs counted as ended_session (after puppets and superseded pairs).
    endedSessions: {
      from: TOKENS,
      where: `${LOCAL_OWNER} AND a.puppets_user_id IS NULL AND NOT ${SUPERSEDED} AND ${ENDED} AND ${OWN_REASON_COUNTS}`,
      example: "a.user_id",
      // $1 is not needed here, but bound as in every query (PostgreSQL must know its type).
      candidate: {
        from: "refresh_tokens r",
        where: `${sqlSessionEnded("r", d.param(2))} AND CAST(${d.param(1)} AS text) IS NOT NULL`,
      },
    },
    // Refresh tokens migrate writes whose session has a hard limit still ahead: MAS cannot enforce it.
    sessionLimitNotEnforced: {
      from: TOKENS,
      where: `${WRITTEN_TOKEN} AND r.id IS NOT NULL AND r.ultimate_session_expiry_ts IS NOT NULL`,
      example: "a.user_id",
      candidate: { from: "refresh_tokens r", where: "r.ultimate_session_expiry_ts IS NOT NULL" },
    },
    // mapping/time.ts: times of migrated rows that MAS cannot hold as they are, one query per column.
    outOfRangeCreationTs: {
      from: "users u",
      where: `${LOCAL_OWNER} AND ${outOfRange("u.creation_ts", MAX_MAS_TIME_S)}`,
      example: "u.name",
    },
    outOfRangeAddedAt: {
      from: "user_threepids t JOIN users u ON u.name = t.user_id",
      where: `${LOCAL_OWNER} AND (t.medium = 'email' OR coalesce(CAST(u.deactivated AS integer), 0) = 0)
        AND ${outOfRange("t.added_at", MAX_MAS_TIME_MS)}`,
      example: "t.user_id",
    },
    outOfRangeLastSeen: {
      from: DEVICES,
      where: `${WRITTEN_DEVICE} AND ${outOfRange("d.last_seen", MAX_MAS_TIME_MS)}`,
      example: "d.user_id",
    },
    outOfRangeValidUntil: {
      from: TOKENS,
      where: `${WRITTEN_TOKEN} AND ${outOfRange("a.valid_until_ms", MAX_MAS_TIME_MS)}`,
      example: "a.user_id",
      candidate: TOKEN_CANDIDATE(outOfRange("a.valid_until_ms", MAX_MAS_TIME_MS)),
    },
    outOfRangeLastValidated: {
      from: TOKENS,
      where: `${WRITTEN_TOKEN} AND ${outOfRange("a.last_validated", MAX_MAS_TIME_MS)}`,
      example: "a.user_id",
      candidate: TOKEN_CANDIDATE(outOfRange("a.last_validated", MAX_MAS_TIME_MS)),
    },
    // A device id with a character an OAuth scope token cannot carry (what trimming the others leaves).
    unencodableDeviceIds: {
      from: DEVICES,
      where: `${WRITTEN_DEVICE} AND trim(d.device_id, '${SCOPE_TOKEN_CHARS.replace(/'/g, "''")}') <> ''`,
      example: "d.device_id",
    },
    // source/decode.ts decodeIp: NULL, empty and '-' are unknown; anything else must be an IP literal.
    unparsableDeviceIps:
      d.unparsableIp === undefined
        ? { from: DEVICES, where: WRITTEN_DEVICE, example: "d.device_id", judgedByEngine: true }
        : { from: DEVICES, where: `${WRITTEN_DEVICE} AND ${d.unparsableIp("d.ip")}`, example: "d.device_id" },
  } as const satisfies Record<string, CountQuery>;
}

export type FindingQuery = keyof ReturnType<typeof buildFindingQueries>;

const BUILT = new Map<SqlDialect, Record<FindingQuery, CountQuery>>();

/** The finding queries in dialect `d`'s spelling (built once per dialect). */
export function findingQueries(d: SqlDialect): Record<FindingQuery, CountQuery> {
  let built = BUILT.get(d);
  if (built === undefined) BUILT.set(d, (built = buildFindingQueries(d)));
  return built;
}

/** What a finding query is run with: the server name, and the run's time (ms) at which sessions are judged ended. */
export interface FindingParams {
  serverName: string;
  now: number;
}

/** Whether `sql` uses `d`'s `n`-th parameter (not a longer one that starts the same). */
function usesParam(d: SqlDialect, sql: string, n: number): boolean {
  const param = d.param(n);
  for (let at = sql.indexOf(param); at >= 0; at = sql.indexOf(param, at + 1)) {
    if (!/\w/.test(sql.charAt(at + param.length))) return true;
  }
  return false;
}

/** The bind parameters `sql` uses: PostgreSQL refuses parameters whose type a statement does not fix. */
function bindFor(d: SqlDialect, sql: string, params: FindingParams): unknown[] {
  if (usesParam(d, sql, 2)) return [params.serverName, params.now];
  return usesParam(d, sql, 1) ? [params.serverName] : [];
}

/**
 * For each `{ from, where }`, how many rows of `from` meet `where`, in the order given: the
 * conditions over the same `from` share one scan (a `count(*) FILTER (WHERE ...)` each), which
 * costs less in total than a scan per condition.
 */
async function countByScan(
  client: SynapseQueries,
  conditions: readonly { from: string; where: string }[],
  params: FindingParams,
): Promise<number[]> {
  const byFrom = new Map<string, number[]>();
  conditions.forEach((c, i) => byFrom.set(c.from, [...(byFrom.get(c.from) ?? []), i]));
  const counts = conditions.map(() => 0);
  await Promise.all(
    [...byFrom].map(async ([from, indexes]) => {
      const filters = indexes.map((i, k) => `count(*) FILTER (WHERE ${conditions[i]?.where}) AS n${k}`);
      const sql = `SELECT ${filters.join(", ")} FROM ${from}`;
      const rows = await client.rows<Record<string, string>>(sql, bindFor(client.dialect, sql, params));
      indexes.forEach((i, k) => (counts[i] = Number(rows[0]?.[`n${k}`] ?? 0)));
    }),
  );
  return counts;
}

/** Counts the rows of `query`, with up to `limit` distinct examples in order (looked up only when there are rows). */
export async function countRows(
  client: SynapseQueries,
  query: FindingQuery,
  params: FindingParams,
  limit: number,
): Promise<CountSample> {
  const { from, where, judgedByEngine } = findingQueries(client.dialect)[query];
  if (judgedByEngine) return client.countUnparsableIps(from, where, params.serverName, limit);
  const sql = `SELECT count(*) AS n FROM ${from} WHERE ${where}`;
  const counted = await client.rows<{ n: string }>(sql, bindFor(client.dialect, sql, params));
  const count = Number(counted[0]?.n ?? 0);
  return { count, examples: count === 0 ? [] : await findingExamples(client, query, params, limit) };
}

/** Up to `limit` distinct example ids of the rows `query` counts, in order. */
async function findingExamples(
  client: SynapseQueries,
  query: FindingQuery,
  params: FindingParams,
  limit: number,
): Promise<string[]> {
  const { from, where, example } = findingQueries(client.dialect)[query];
  const sql = `SELECT DISTINCT ${example} AS e FROM ${from} WHERE ${where} ORDER BY 1 LIMIT ${Math.max(0, Math.floor(limit))}`;
  const examples = await client.rows<{ e: string }>(sql, bindFor(client.dialect, sql, params));
  return examples.map((r) => r.e);
}

/**
 * Counts several queries at once: those over the same tables share one scan (a `count(*) FILTER
 * (WHERE ...)` each), which costs less in total than a scan per query; examples are looked up
 * only for non-zero counts. Results are in the order of `queries`.
 */
export async function countRowsBatch(
  client: SynapseQueries,
  queries: readonly FindingQuery[],
  params: FindingParams,
  limit: number,
): Promise<CountSample[]> {
  const all = findingQueries(client.dialect);
  const apart = queries.filter((q) => all[q].judgedByEngine);
  if (apart.length > 0) {
    // Counted by the engine (see countRows); the others still share their scans.
    const rest = queries.filter((q) => !all[q].judgedByEngine);
    const [samples, judged] = await Promise.all([
      countRowsBatch(client, rest, params, limit),
      Promise.all(apart.map((q) => countRows(client, q, params, limit))),
    ]);
    return queries.map((q) => (all[q].judgedByEngine ? judged[apart.indexOf(q)] : samples[rest.indexOf(q)]) as CountSample);
  }
  // Queries whose candidate no row meets count 0 without their joins.
  const candidates = queries.flatMap((q) => {
    const candidate = all[q].candidate;
    return candidate === undefined ? [] : [{ query: q, ...candidate }];
  });
  const candidateCounts = await countByScan(client, candidates, params);
  const zero = new Set(candidates.filter((_, i) => candidateCounts[i] === 0).map((c) => c.query));
  const counted = queries.filter((q) => !zero.has(q));
  const fullCounts = await countByScan(
    client,
    counted.map((q) => all[q]),
    params,
  );
  const counts = new Map(counted.map((q, i) => [q, fullCounts[i] ?? 0]));
  return Promise.all(
    queries.map(async (q) => {
      const count = counts.get(q) ?? 0;
      return { count, examples: count === 0 ? [] : await findingExamples(client, q, params, limit) };
    }),
  );
}

/**
 * Keys MAS needs unique, which Synapse keeps unique (with its constraints, but for the last): two
 * rows sharing one would make MAS's unique indexes fail at the rebuild, after the whole load.
 * Users and devices give ids derived from these keys; tokens are unique themselves in MAS.
 */
export const UNIQUE_KEYS: readonly { table: string; columns: readonly string[]; example: string }[] = [
  { table: "users", columns: ["name"], example: "name" },
  { table: "devices", columns: ["user_id", "device_id"], example: "user_id" },
  { table: "access_tokens", columns: ["id"], example: "user_id" },
  { table: "access_tokens", columns: ["token"], example: "user_id" },
  { table: "refresh_tokens", columns: ["id"], example: "user_id" },
  { table: "refresh_tokens", columns: ["token"], example: "user_id" },
  // A refresh token paired with several access tokens would be written once per pair. Synapse has
  // no constraint here (it never does this), so this one is always looked for: an index-only scan.
  { table: "access_tokens", columns: ["refresh_token_id"], example: "user_id" },
  { table: "user_threepids", columns: ["medium", "address"], example: "user_id" },
  { table: "user_external_ids", columns: ["auth_provider", "external_id"], example: "user_id" },
];

/**
 * Rows sharing a {@link UNIQUE_KEYS} key with another row, per key: only looked for where no
 * unique index of Synapse's already rules them out (the normal case costs a catalog lookup).
 */
export async function duplicateRows(
  client: SynapseQueries,
  limit: number,
): Promise<{ key: string; count: number; examples: string[] }[]> {
  const found: { key: string; count: number; examples: string[] }[] = [];
  const indexes = new Map<string, string[][]>();
  for (const { table, columns, example } of UNIQUE_KEYS) {
    if (!indexes.has(table)) indexes.set(table, await client.uniqueIndexes(table));
    // A unique index on some of the key's columns makes the whole key unique.
    if (indexes.get(table)?.some((index) => index.every((c) => columns.includes(c)))) continue;
    const on = columns.map((c) => `x.${c} = dup.${c}`).join(" AND ");
    // NULLs never collide (nor join): leaving them out lets an index on the key serve the grouping.
    const present = columns.map((c) => `${c} IS NOT NULL`).join(" AND ");
    const rows = `FROM ${table} x JOIN (SELECT ${columns.join(", ")} FROM ${table} WHERE ${present}
      GROUP BY ${columns.join(", ")} HAVING count(*) > 1) dup ON ${on}`;
    const counted = await client.rows<{ n: string }>(`SELECT count(*) AS n ${rows}`);
    const count = Number(counted[0]?.n ?? 0);
    if (count === 0) continue;
    const examples = await client.rows<{ e: string }>(
      `SELECT DISTINCT x.${example} AS e ${rows} ORDER BY 1 LIMIT ${Math.max(0, Math.floor(limit))}`,
    );
    found.push({ key: `${table}.${columns.join(", ")}`, count, examples: examples.map((r) => r.e) });
  }
  return found;
}

/**
 * External ids that would become one upstream link twice: several Synapse `auth_provider`s mapped
 * to the same MAS provider (e.g. a renamed `oidc` and `oidc-keycloak`, both given to one provider
 * with --upstream-provider-mapping) holding the same subject. MAS keeps (provider, subject) unique.
 * `providers` maps auth_provider -> MAS provider id; one result per MAS provider with a collision.
 */
export async function sharedUpstreamSubjects(
  client: SynapseQueries,
  providers: ReadonlyMap<string, string>,
  limit: number,
): Promise<{ key: string; count: number; examples: string[] }[]> {
  const byMasProvider = new Map<string, string[]>();
  for (const [authProvider, masId] of providers) byMasProvider.set(masId, [...(byMasProvider.get(masId) ?? []), authProvider]);
  const found: { key: string; count: number; examples: string[] }[] = [];
  for (const authProviders of byMasProvider.values()) {
    if (authProviders.length < 2) continue;
    const list = authProviders.map((_, i) => client.dialect.param(i + 1)).join(", ");
    const rows = `FROM user_external_ids x JOIN (SELECT external_id FROM user_external_ids WHERE auth_provider IN (${list})
      GROUP BY external_id HAVING count(*) > 1) dup ON x.external_id = dup.external_id WHERE x.auth_provider IN (${list})`;
    const counted = await client.rows<{ n: string }>(`SELECT count(*) AS n ${rows}`, authProviders);
    const count = Number(counted[0]?.n ?? 0);
    if (count === 0) continue;
    const examples = await client.rows<{ e: string }>(
      `SELECT DISTINCT x.user_id AS e ${rows} ORDER BY 1 LIMIT ${Math.max(0, Math.floor(limit))}`,
      authProviders,
    );
    found.push({
      key: `user_external_ids.external_id of ${[...authProviders].sort().join(" and ")} (one MAS provider)`,
      count,
      examples: examples.map((r) => r.e),
    });
  }
  return found;
}

export async function appserviceRowCounts(client: SynapseQueries, serverName: string): Promise<Record<string, number>> {
  const tables = { devices: "user_id", access_tokens: "user_id", user_threepids: "user_id", user_external_ids: "user_id" };
  const columns = Object.entries(tables).map(
    ([table, column]) =>
      `(SELECT count(*) FROM ${table} x JOIN users u ON u.name = x.${column}
         WHERE ${sqlIsLocalUserId("u.name", client.dialect.param(1), client.dialect)} AND NOT ${NOT_APPSERVICE}) AS ${table}`,
  );
  const rows = await client.rows<Record<string, string>>(`SELECT ${columns.join(", ")}`, [serverName]);
  const row = rows[0] ?? {};
  return Object.fromEntries(Object.keys(tables).map((t) => [t, Number(row[t] ?? 0)]));
}

/** Rows of Synapse's `background_updates` (names as examples); zero when the table does not exist. */
export async function pendingBackgroundUpdates(client: SynapseQueries, limit: number): Promise<CountSample> {
  if (!(await client.tableExists("background_updates"))) return { count: 0, examples: [] };
  const counted = await client.rows<{ n: string }>("SELECT count(*) AS n FROM background_updates");
  const count = Number(counted[0]?.n ?? 0);
  if (count === 0) return { count, examples: [] };
  const examples = await client.rows<{ e: string }>(
    `SELECT update_name AS e FROM background_updates ORDER BY ordering, update_name LIMIT ${client.dialect.param(1)}`,
    [limit],
  );
  return { count, examples: examples.map((r) => r.e) };
}
