/** Column order of every MAS table written: the single source for COPY, schema checks and tests. */
import type { MasRowOf, MasTableName } from "../model/mas.ts";

/** How a value is encoded in COPY text. */
export type ColumnKind = "uuid" | "text" | "timestamptz" | "bool" | "int" | "inet";

export interface ColumnSpec<T extends MasTableName> {
  name: string;
  kind: ColumnKind;
  /** The value for one row; null is written as SQL NULL. */
  get: (row: MasRowOf<T>) => string | number | boolean | null;
  /** Written only when the target schema has the column (older MAS versions). */
  optional?: boolean;
}

type TableSpecs = { [T in MasTableName]: ColumnSpec<T>[] };

/** The tables, in the order their rows must be written (foreign keys point backwards). */
export const TABLE_ORDER: readonly MasTableName[] = [
  "users",
  "user_passwords",
  "user_emails",
  "user_unsupported_third_party_ids",
  "upstream_oauth_links",
  "compat_sessions",
  "compat_access_tokens",
  "compat_refresh_tokens",
];

export const TABLES: TableSpecs = {
  users: [
    { name: "user_id", kind: "uuid", get: (r) => r.userId },
    { name: "username", kind: "text", get: (r) => r.username },
    { name: "created_at", kind: "timestamptz", get: (r) => r.createdAt },
    { name: "locked_at", kind: "timestamptz", get: (r) => r.lockedAt },
    { name: "deactivated_at", kind: "timestamptz", get: (r) => r.deactivatedAt },
    { name: "can_request_admin", kind: "bool", get: (r) => r.canRequestAdmin },
    { name: "is_guest", kind: "bool", get: (r) => r.isGuest },
  ],
  user_passwords: [
    { name: "user_password_id", kind: "uuid", get: (r) => r.userPasswordId },
    { name: "user_id", kind: "uuid", get: (r) => r.userId },
    { name: "hashed_password", kind: "text", get: (r) => r.hashedPassword },
    { name: "created_at", kind: "timestamptz", get: (r) => r.createdAt },
    { name: "version", kind: "int", get: (r) => r.version },
  ],
  user_emails: [
    { name: "user_email_id", kind: "uuid", get: (r) => r.userEmailId },
    { name: "user_id", kind: "uuid", get: (r) => r.userId },
    { name: "email", kind: "text", get: (r) => r.email },
    { name: "created_at", kind: "timestamptz", get: (r) => r.createdAt },
    // MAS before 1.10 treats an email without confirmed_at as unconfirmed.
    { name: "confirmed_at", kind: "timestamptz", get: (r) => r.confirmedAt, optional: true },
  ],
  user_unsupported_third_party_ids: [
    { name: "user_id", kind: "uuid", get: (r) => r.userId },
    { name: "medium", kind: "text", get: (r) => r.medium },
    { name: "address", kind: "text", get: (r) => r.address },
    { name: "created_at", kind: "timestamptz", get: (r) => r.createdAt },
  ],
  upstream_oauth_links: [
    { name: "upstream_oauth_link_id", kind: "uuid", get: (r) => r.upstreamOauthLinkId },
    { name: "upstream_oauth_provider_id", kind: "uuid", get: (r) => r.upstreamOauthProviderId },
    { name: "user_id", kind: "uuid", get: (r) => r.userId },
    { name: "subject", kind: "text", get: (r) => r.subject },
    { name: "created_at", kind: "timestamptz", get: (r) => r.createdAt },
  ],
  compat_sessions: [
    { name: "compat_session_id", kind: "uuid", get: (r) => r.compatSessionId },
    { name: "user_id", kind: "uuid", get: (r) => r.userId },
    { name: "device_id", kind: "text", get: (r) => r.deviceId },
    { name: "created_at", kind: "timestamptz", get: (r) => r.createdAt },
    { name: "is_synapse_admin", kind: "bool", get: (r) => r.isSynapseAdmin },
    { name: "last_active_at", kind: "timestamptz", get: (r) => r.lastActiveAt },
    { name: "last_active_ip", kind: "inet", get: (r) => r.lastActiveIp },
    { name: "user_agent", kind: "text", get: (r) => r.userAgent },
    { name: "human_name", kind: "text", get: (r) => r.humanName },
  ],
  compat_access_tokens: [
    { name: "compat_access_token_id", kind: "uuid", get: (r) => r.compatAccessTokenId },
    { name: "compat_session_id", kind: "uuid", get: (r) => r.compatSessionId },
    { name: "access_token", kind: "text", get: (r) => r.accessToken },
    { name: "created_at", kind: "timestamptz", get: (r) => r.createdAt },
    { name: "expires_at", kind: "timestamptz", get: (r) => r.expiresAt },
  ],
  compat_refresh_tokens: [
    { name: "compat_refresh_token_id", kind: "uuid", get: (r) => r.compatRefreshTokenId },
    { name: "compat_session_id", kind: "uuid", get: (r) => r.compatSessionId },
    { name: "compat_access_token_id", kind: "uuid", get: (r) => r.compatAccessTokenId },
    { name: "refresh_token", kind: "text", get: (r) => r.refreshToken },
    { name: "created_at", kind: "timestamptz", get: (r) => r.createdAt },
  ],
};

/** The columns written to `table`, given which optional columns the target has. */
export function columnsFor<T extends MasTableName>(table: T, presentOptional: ReadonlySet<string>): ColumnSpec<T>[] {
  return (TABLES[table] as ColumnSpec<T>[]).filter((c) => !c.optional || presentOptional.has(`${table}.${c.name}`));
}
