/** Findings: what a check reports, with a stable code, a severity, a count and examples. */

export type Severity = "error" | "warning" | "info";

/** Every finding code this tool can report, with its severity (from docs/spec/checks.md). */
export const FINDING_CODES = {
  // Synapse configuration alone
  REGISTRATION_ENABLED: "warning",
  USER_CONSENT: "warning",
  CAS_CONFIGURED: "warning",
  SAML_CONFIGURED: "warning",
  JWT_CONFIGURED: "warning",
  PASSWORD_PROVIDER: "warning",
  THREEPID_CHANGES_ENABLED: "error",
  LOGIN_VIA_EXISTING_SESSION: "error",
  UNSUPPORTED_DATABASE: "error",
  // Synapse configuration against MAS configuration
  SERVER_NAME_MISMATCH: "error",
  NO_BCRYPT_SCHEME: "error",
  PEPPER_MISMATCH: "error",
  UNICODE_NORMALIZATION_OFF: "error",
  NO_REHASH_SCHEME: "warning",
  PASSWORDS_DISABLED: "warning",
  GUEST_ACCESS_ENABLED: "error",
  CAPTCHA_NOT_CONFIGURED: "warning",
  TOS_NOT_CONFIGURED: "warning",
  PROVIDER_NOT_IN_MAS: "error",
  PROVIDER_NOT_SYNCED: "error",
  // MAS database
  MAS_SCHEMA_MISSING: "error",
  MAS_SCHEMA_UNSUPPORTED: "error",
  MAS_SCHEMA_NEWER: "warning",
  MAS_NOT_EMPTY: "error",
  ALREADY_MIGRATED: "error",
  MIGRATION_RUNNING: "error",
  // Synapse database
  SYNAPSE_SCHEMA_UNSUPPORTED: "error",
  FOREIGN_USER_IDS: "error",
  ORPHAN_ROWS: "error",
  DUPLICATE_ROWS: "error",
  OAUTH_DELEGATED_IDS: "error",
  UNKNOWN_AUTH_PROVIDER: "error",
  LINK_COLLISION: "error",
  LINK_SOURCE_UNUSED: "warning",
  LINK_FILE_UNMIGRATED_USERS: "warning",
  USERS_WITHOUT_LOGIN: "warning",
  SYNAPSE_RUNNING: "error",
  PENDING_BACKGROUND_UPDATES: "warning",
  GUEST_USERS: "warning",
  NON_EMAIL_THREEPIDS: "warning",
  MACAROON_TOKENS: "warning",
  NULL_CREATION_TS: "warning",
  UNUSABLE_PASSWORD_HASHES: "warning",
  OUT_OF_RANGE_TIMESTAMPS: "warning",
  UNUSUAL_LOCALPARTS: "warning",
  UNENCODABLE_DEVICE_IDS: "warning",
  SESSION_LIMIT_NOT_ENFORCED: "warning",
  ENDED_SESSIONS: "info",
  UNPARSABLE_DEVICE_IPS: "info",
  APPSERVICE_USERS: "info",
  ONLINE_MIGRATION: "info",
  STAGE_PRESENT: "info",
  PUPPET_TOKENS: "info",
  DEVICELESS_TOKENS: "info",
} as const satisfies Record<string, Severity>;

export type FindingCode = keyof typeof FINDING_CODES;

/** One problem found before anything is written. Examples hold user ids or table names, never secrets. */
export interface Finding {
  code: FindingCode;
  severity: Severity;
  /** What is wrong and what to do, in one paragraph. */
  message: string;
  count?: number;
  examples?: string[];
  /** A warning the operator accepted with --accept-warning / --accept-all-warnings. */
  accepted?: boolean;
}

/** Builds a finding with the severity its code has. */
export function finding(
  code: FindingCode,
  message: string,
  extra: { count?: number; examples?: string[]; severity?: Severity } = {},
): Finding {
  const { severity, ...rest } = extra;
  return { code, severity: severity ?? FINDING_CODES[code], message, ...rest };
}

/** The number of examples a finding carries at most. */
export const MAX_EXAMPLES = 5;
