/**
 * What MAS holds that the migration did not write: the activity of a MAS that users have started
 * to use since a moment (a migration record's committed_at). Read-only: the caller chooses the
 * transaction (a READ ONLY one for `status`, the rollback's own for `rollback`).
 *
 * Two kinds of evidence. A row in a table the migration never writes (browser sessions, OAuth 2.0
 * sessions, SSO logins, registrations...) is activity whatever its date. In the tables it writes,
 * rows created after `since`, and changes it never makes (a session used or ended, a user locked or
 * deactivated after `since`), are activity. Tables MAS fills from its configuration or for its own
 * housekeeping (providers, clients, policy data, the job queue) are not.
 */
import type pg from "pg";
import { TABLE_ORDER } from "./tables.ts";

/** Usernames shown per kind. */
export const ACTIVITY_EXAMPLES = 5;

export interface ActivityKind {
  count: number;
  /** MAS usernames (localparts), in username order, at most ACTIVITY_EXAMPLES. */
  examples: string[];
}

export interface MasActivity {
  since: Date;
  /** Only kinds with rows, by kind name (e.g. `users_created`, `browser_sessions`, or a table's name). */
  kinds: Record<string, ActivityKind>;
  /** The sum of the kinds' counts. */
  total: number;
}

interface Probe {
  kind: string;
  table: string;
  /** `table.column`s the condition reads: the probe is skipped where one is missing (older MAS). */
  needs: string[];
  /** The rows that are activity, over alias `t`; `$1` is `since`. */
  where: string;
  /** The row's MAS username, over alias `t`, for examples; without it (or its columns) no examples. */
  username?: { sql: string; needs: string[] };
}

/** The username of the MAS user whose id `uuidSql` is. */
function userOf(uuidSql: string, needs: string[] = []): { sql: string; needs: string[] } {
  return { sql: `(SELECT u.username FROM users u WHERE u.user_id = ${uuidSql})`, needs };
}

/** The username of the owner of the browser session `t.user_session_id`. */
function sessionOwner(table: string): { sql: string; needs: string[] } {
  return {
    sql: `(SELECT u.username FROM user_sessions s JOIN users u ON u.user_id = s.user_id WHERE s.user_session_id = t.user_session_id)`,
    needs: [`${table}.user_session_id`],
  };
}

/** In the tables the migration writes: what only MAS can have done there since. */
const WRITTEN_TABLE_PROBES: Probe[] = [
  {
    kind: "users_created",
    table: "users",
    needs: ["users.created_at"],
    where: "t.created_at > $1",
    username: { sql: "t.username", needs: [] },
  },
  {
    kind: "users_locked",
    table: "users",
    needs: ["users.created_at", "users.locked_at"],
    where: "t.created_at <= $1 AND t.locked_at > $1",
    username: { sql: "t.username", needs: [] },
  },
  {
    kind: "users_deactivated",
    table: "users",
    needs: ["users.created_at", "users.deactivated_at"],
    where: "t.created_at <= $1 AND t.deactivated_at > $1",
    username: { sql: "t.username", needs: [] },
  },
  {
    // A new user's first password is part of users_created.
    kind: "passwords_changed",
    table: "user_passwords",
    needs: ["user_passwords.created_at"],
    where: "t.created_at > $1 AND EXISTS (SELECT 1 FROM users u WHERE u.user_id = t.user_id AND u.created_at <= $1)",
    username: userOf("t.user_id"),
  },
  {
    kind: "emails_added",
    table: "user_emails",
    needs: ["user_emails.created_at"],
    where: "t.created_at > $1",
    username: userOf("t.user_id"),
  },
  {
    kind: "third_party_ids_added",
    table: "user_unsupported_third_party_ids",
    needs: ["user_unsupported_third_party_ids.created_at"],
    where: "t.created_at > $1",
    username: userOf("t.user_id"),
  },
  {
    kind: "upstream_links_created",
    table: "upstream_oauth_links",
    needs: ["upstream_oauth_links.created_at"],
    where: "t.created_at > $1",
    username: userOf("t.user_id"),
  },
  {
    kind: "compat_sessions_created",
    table: "compat_sessions",
    needs: ["compat_sessions.created_at"],
    where: "t.created_at > $1",
    username: userOf("t.user_id"),
  },
  {
    kind: "compat_sessions_used",
    table: "compat_sessions",
    needs: ["compat_sessions.created_at", "compat_sessions.last_active_at"],
    where: "t.created_at <= $1 AND t.last_active_at > $1",
    username: userOf("t.user_id"),
  },
  {
    // The migration never writes finished_at (ended sessions are not migrated): any is MAS's.
    kind: "compat_sessions_ended",
    table: "compat_sessions",
    needs: ["compat_sessions.created_at", "compat_sessions.finished_at"],
    where: "t.created_at <= $1 AND t.finished_at IS NOT NULL",
    username: userOf("t.user_id"),
  },
  {
    // New tokens in a migrated session: a client refreshed its token through MAS.
    kind: "compat_tokens_refreshed",
    table: "compat_access_tokens",
    needs: ["compat_access_tokens.created_at"],
    where:
      "t.created_at > $1 AND EXISTS (SELECT 1 FROM compat_sessions c WHERE c.compat_session_id = t.compat_session_id AND c.created_at <= $1)",
    username: userOf("(SELECT c.user_id FROM compat_sessions c WHERE c.compat_session_id = t.compat_session_id)"),
  },
];

/** Tables the migration never writes, where any row is activity. */
const UNWRITTEN_TABLE_PROBES: Probe[] = [
  { kind: "browser_sessions", table: "user_sessions", needs: [], where: "true", username: userOf("t.user_id") },
  {
    kind: "oauth2_sessions",
    table: "oauth2_sessions",
    needs: [],
    where: "true",
    username: userOf("t.user_id", ["oauth2_sessions.user_id"]),
  },
  {
    kind: "oauth2_authorization_grants",
    table: "oauth2_authorization_grants",
    needs: [],
    where: "true",
    username: sessionOwner("oauth2_authorization_grants"),
  },
  {
    kind: "oauth2_device_code_grants",
    table: "oauth2_device_code_grant",
    needs: [],
    where: "true",
    username: sessionOwner("oauth2_device_code_grant"),
  },
  {
    kind: "sso_logins",
    table: "compat_sso_logins",
    needs: [],
    where: "true",
    username: userOf("(SELECT c.user_id FROM compat_sessions c WHERE c.compat_session_id = t.compat_session_id)"),
  },
  { kind: "registrations", table: "user_registrations", needs: [], where: "true", username: { sql: "t.username", needs: [] } },
  {
    kind: "upstream_logins",
    table: "upstream_oauth_authorization_sessions",
    needs: [],
    where: "true",
    username: userOf("(SELECT l.user_id FROM upstream_oauth_links l WHERE l.upstream_oauth_link_id = t.upstream_oauth_link_id)"),
  },
  {
    kind: "email_authentications",
    table: "user_email_authentications",
    needs: [],
    where: "true",
    username: sessionOwner("user_email_authentications"),
  },
  {
    kind: "personal_sessions",
    table: "personal_sessions",
    needs: [],
    where: "true",
    username: userOf("t.actor_user_id", ["personal_sessions.actor_user_id"]),
  },
  { kind: "terms_accepted", table: "user_terms", needs: [], where: "true", username: userOf("t.user_id") },
  { kind: "oauth2_consents", table: "oauth2_consents", needs: [], where: "true", username: userOf("t.user_id") },
  // Recovery sessions name an email address only: counted, never shown.
  { kind: "recovery_sessions", table: "user_recovery_sessions", needs: [], where: "true" },
];

/** Tables MAS fills from its configuration or for its own running, not from users' activity. */
const NOT_ACTIVITY = new Set([
  "_sqlx_migrations",
  "upstream_oauth_providers",
  "oauth2_clients",
  "policy_data",
  "queue_jobs",
  "queue_schedules",
  "queue_workers",
  "queue_leader",
  "user_registration_tokens",
]);

/** Tables whose rows always belong to a row of a probed table (foreign key): counted through it. */
const COUNTED_THROUGH_PARENT = new Set([
  "user_session_authentications",
  "oauth2_access_tokens",
  "oauth2_refresh_tokens",
  "personal_access_tokens",
  "user_email_authentication_codes",
  "user_recovery_tickets",
]);

/**
 * MAS's activity since `since`. Works on every MAS schema from 1.0: a probe whose table or columns
 * are missing is skipped; any other table of MAS's schema that holds rows (a table of a newer MAS)
 * is counted under its own name.
 */
export async function readMasActivity(client: pg.ClientBase, since: Date): Promise<MasActivity> {
  const columns = await client.query<{ table_name: string; column_name: string }>(
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`,
  );
  const tables = new Set(columns.rows.map((r) => r.table_name));
  const have = new Set(columns.rows.map((r) => `${r.table_name}.${r.column_name}`));
  const kinds: Record<string, ActivityKind> = {};
  const probes = [...WRITTEN_TABLE_PROBES, ...UNWRITTEN_TABLE_PROBES];
  const probed = new Set(probes.map((p) => p.table));
  const written = new Set<string>(TABLE_ORDER);
  for (const table of [...tables].sort()) {
    if (!probed.has(table) && !written.has(table) && !NOT_ACTIVITY.has(table) && !COUNTED_THROUGH_PARENT.has(table)) {
      probes.push({ kind: table, table, needs: [], where: "true" });
    }
  }
  for (const probe of probes) {
    if (!tables.has(probe.table) || !probe.needs.every((c) => have.has(c))) continue;
    const found = await readProbe(client, probe, since, have);
    if (found.count > 0) kinds[probe.kind] = found;
  }
  const total = Object.values(kinds).reduce((sum, k) => sum + k.count, 0);
  return { since, kinds, total };
}

async function readProbe(client: pg.ClientBase, probe: Probe, since: Date, have: ReadonlySet<string>): Promise<ActivityKind> {
  // PostgreSQL refuses a parameter the statement does not use.
  const params = probe.where.includes("$1") ? [since] : [];
  const counted = await client.query<{ n: string }>(
    `SELECT count(*)::bigint AS n FROM ${probe.table} t WHERE ${probe.where}`,
    params,
  );
  const count = Number(counted.rows[0]?.n ?? 0);
  const username = probe.username;
  if (count === 0 || username === undefined || !username.needs.every((c) => have.has(c))) return { count, examples: [] };
  const examples = await client.query<{ username: string }>(
    `SELECT username FROM (SELECT DISTINCT ${username.sql} AS username FROM ${probe.table} t WHERE ${probe.where}) s
      WHERE username IS NOT NULL ORDER BY username LIMIT ${ACTIVITY_EXAMPLES}`,
    params,
  );
  return { count, examples: examples.rows.map((r) => r.username) };
}
