/** One row type per MAS table this tool writes. Times are Unix milliseconds; ids are UUID strings. */
import type { MasId } from "./ids.ts";

export interface MasUser {
  userId: MasId;
  username: string;
  createdAt: number;
  lockedAt: number | null;
  deactivatedAt: number | null;
  canRequestAdmin: boolean;
  isGuest: boolean;
}

export interface MasUserPassword {
  userPasswordId: MasId;
  userId: MasId;
  hashedPassword: string;
  createdAt: number;
  version: number;
}

export interface MasUserEmail {
  userEmailId: MasId;
  userId: MasId;
  email: string;
  createdAt: number;
  /** Only written where the target schema still has the column (MAS before 1.10). */
  confirmedAt: number;
}

export interface MasUnsupportedThreepid {
  userId: MasId;
  medium: string;
  address: string;
  createdAt: number;
}

export interface MasUpstreamOauthLink {
  upstreamOauthLinkId: MasId;
  upstreamOauthProviderId: MasId;
  userId: MasId;
  subject: string;
  createdAt: number;
}

export interface MasCompatSession {
  compatSessionId: MasId;
  userId: MasId;
  deviceId: string | null;
  createdAt: number;
  isSynapseAdmin: boolean;
  lastActiveAt: number | null;
  lastActiveIp: string | null;
  userAgent: string | null;
  humanName: string | null;
}

export interface MasCompatAccessToken {
  compatAccessTokenId: MasId;
  compatSessionId: MasId;
  accessToken: string;
  createdAt: number;
  expiresAt: number | null;
}

export interface MasCompatRefreshToken {
  compatRefreshTokenId: MasId;
  compatSessionId: MasId;
  compatAccessTokenId: MasId;
  refreshToken: string;
  createdAt: number;
}

/** Every row a mapping can emit, tagged with its table. */
export type MasRow =
  | { table: "users"; row: MasUser }
  | { table: "user_passwords"; row: MasUserPassword }
  | { table: "user_emails"; row: MasUserEmail }
  | { table: "user_unsupported_third_party_ids"; row: MasUnsupportedThreepid }
  | { table: "upstream_oauth_links"; row: MasUpstreamOauthLink }
  | { table: "compat_sessions"; row: MasCompatSession }
  | { table: "compat_access_tokens"; row: MasCompatAccessToken }
  | { table: "compat_refresh_tokens"; row: MasCompatRefreshToken };

/** The name of a MAS table this tool writes. */
export type MasTableName = MasRow["table"];

/** The rows of one table, by table name. */
export type MasRowOf<T extends MasTableName> = Extract<MasRow, { table: T }>["row"];
