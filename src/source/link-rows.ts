/**
 * What the `--link` checks read from Synapse (issue 15), written once for both engines: the rows a
 * link would be made from, which users a `--link-file` names, and the users left with no way to
 * log in. Every query keeps to the users `migrate` migrates: local, existing, not an appservice's.
 */
import { sqlIsUsableBcryptHash } from "../model/password-hash.ts";
import { sqlIsLocalUserId } from "../model/user-id.ts";
import type { CountSample, SqlDialect, SynapseQueries } from "./snapshot-readers.ts";

/** 1 when `u` has a password MAS can verify (mapping/users.ts writes it), else 0 (also for none). */
function hasPassword(d: SqlDialect): string {
  return `CASE WHEN ${sqlIsUsableBcryptHash("u.password_hash", d.engine)} THEN 1 ELSE 0 END`;
}

/** `u` is migrated ($1: the server name); the reader treats an empty appservice_id as none. */
function migratedUser(d: SqlDialect): string {
  return `${sqlIsLocalUserId("u.name", d.param(1), d)} AND nullif(u.appservice_id, '') IS NULL`;
}
const NOT_GUEST = "coalesce(CAST(u.is_guest AS integer), 0) = 0";
const NOT_DEACTIVATED = "coalesce(CAST(u.deactivated AS integer), 0) = 0";
/** mapping/users.ts: the users `--link localpart` links (the reader's has_external_id, negated). */
const NO_EXTERNAL_ID = "NOT EXISTS (SELECT 1 FROM user_external_ids x WHERE x.user_id = u.name)";

/** Rows per page of the reads below: their callers keep a few bytes per row, not the rows. */
const PAGE_ROWS = 20_000;

/**
 * The rows of one table, page by page in the order of `order.column` (unique), each page kept to
 * those its `kept` column (1 or 0) says. `sql` selects `kept` and the row's columns from `page`, a
 * raw page of the table: `FROM (SELECT ... WHERE ... {after} ORDER BY <column> LIMIT {limit}) page`.
 * The raw page follows the table's unique index (the next one starts after its last key), so each
 * page costs an index range, never a scan of the whole table; filtering inside the page would let
 * PostgreSQL, which cannot estimate the filters, scan and sort the table for every page.
 */
async function* pages<R extends object>(
  client: SynapseQueries,
  sql: string,
  params: readonly unknown[],
  order: { column: string; key: keyof R },
  pageRows: number,
): AsyncIterable<R[]> {
  const afterParam = client.dialect.param(params.length + 1);
  let after: unknown;
  for (;;) {
    const first = after === undefined;
    const page = await client.rows<R & { kept: unknown }>(
      sql.replace("{after}", first ? "" : `AND ${order.column} > ${afterParam}`).replace("{limit}", String(pageRows)),
      first ? params : [...params, after],
    );
    const kept = page.filter((r) => Number(r.kept) === 1).map(({ kept: _kept, ...row }) => row as unknown as R);
    if (kept.length > 0) yield kept;
    if (page.length < pageRows) return;
    after = (page[page.length - 1] as R)[order.key];
  }
}

/** The external ids of `authProvider` whose owner is migrated (each becomes a link), in pages. */
export function linkedExternalIdPages(
  client: SynapseQueries,
  serverName: string,
  authProvider: string,
  pageRows = PAGE_ROWS,
): AsyncIterable<{ external_id: string; user_id: string }[]> {
  const d = client.dialect;
  return pages(
    client,
    `SELECT page.external_id, page.user_id, CASE WHEN u.name IS NOT NULL AND ${migratedUser(d)} THEN 1 ELSE 0 END AS kept
       FROM (SELECT e.external_id, e.user_id FROM user_external_ids e WHERE e.auth_provider = ${d.param(2)} {after}
              ORDER BY e.external_id LIMIT {limit}) page
       LEFT JOIN users u ON u.name = page.user_id
      ORDER BY page.external_id`,
    [serverName, authProvider],
    { column: "e.external_id", key: "external_id" },
    pageRows,
  );
}

/** The condition on `u` of the users `--link localpart` links: migrated, not guests, not deactivated, with no external id. */
function localpartLinked(d: SqlDialect): string {
  return `${migratedUser(d)} AND ${NOT_GUEST} AND ${NOT_DEACTIVATED} AND ${NO_EXTERNAL_ID}`;
}

/** The users `--link localpart` links, in pages. */
export function localpartLinkedUserPages(
  client: SynapseQueries,
  serverName: string,
  pageRows = PAGE_ROWS,
): AsyncIterable<{ name: string }[]> {
  return pages(
    client,
    `SELECT u.name, CASE WHEN ${localpartLinked(client.dialect)} THEN 1 ELSE 0 END AS kept
       FROM (SELECT name, appservice_id, is_guest, deactivated FROM users WHERE 1 = 1 {after} ORDER BY name LIMIT {limit}) u
      ORDER BY u.name`,
    [serverName],
    { column: "name", key: "name" },
    pageRows,
  );
}

/** Whether `--link localpart` links anyone. */
export async function anyLocalpartLinkedUser(client: SynapseQueries, serverName: string): Promise<boolean> {
  const rows = await client.rows(`SELECT 1 AS one FROM users u WHERE ${localpartLinked(client.dialect)} LIMIT 1`, [serverName]);
  return rows.length > 0;
}

/** Bind parameters per query when listing user ids (SQLite's limit is 32766, PostgreSQL's 65535). */
const NAMES_PER_QUERY = 1000;

/** Which of `names` are migrated users (a `--link-file`'s rows for the others are not written). */
export async function migratedUsersAmong(
  client: SynapseQueries,
  serverName: string,
  names: readonly string[],
): Promise<Set<string>> {
  const d = client.dialect;
  const found = new Set<string>();
  for (let start = 0; start < names.length; start += NAMES_PER_QUERY) {
    const chunk = names.slice(start, start + NAMES_PER_QUERY);
    const list = chunk.map((_, i) => d.param(i + 2)).join(", ");
    const rows = await client.rows<{ name: string }>(
      `SELECT u.name FROM users u WHERE ${migratedUser(d)} AND u.name IN (${list})`,
      [serverName, ...chunk],
    );
    for (const r of rows) found.add(r.name);
  }
  return found;
}

/**
 * Migrated users who are neither guests nor deactivated, have no password MAS can verify, and no
 * external id of an `auth_provider` in `linkedAuthProviders` (those become links): after the
 * migration, nothing lets them log in. `limit` examples in byte order; `extraExamples` more are
 * read so that the caller can drop users it links otherwise (a `--link-file`) and still show `limit`.
 */
export async function usersWithoutLogin(
  client: SynapseQueries,
  serverName: string,
  linkedAuthProviders: readonly string[],
  limit: number,
  extraExamples = 0,
): Promise<CountSample> {
  const d = client.dialect;
  const linked =
    linkedAuthProviders.length === 0
      ? ""
      : `AND NOT EXISTS (SELECT 1 FROM user_external_ids x WHERE x.user_id = u.name AND x.auth_provider IN (${linkedAuthProviders
          .map((_, i) => d.param(i + 2))
          .join(", ")}))`;
  const where = `${migratedUser(d)} AND ${NOT_GUEST} AND ${NOT_DEACTIVATED} AND ${hasPassword(d)} = 0 ${linked}`;
  const params = [serverName, ...linkedAuthProviders];
  const counted = await client.rows<{ n: string }>(`SELECT count(*) AS n FROM users u WHERE ${where}`, params);
  const count = Number(counted[0]?.n ?? 0);
  if (count === 0) return { count, examples: [] };
  const rows = await client.rows<{ name: string }>(
    `SELECT u.name FROM users u WHERE ${where} ORDER BY u.name LIMIT ${Math.floor(limit + extraExamples)}`,
    params,
  );
  return { count, examples: rows.map((r) => r.name) };
}
