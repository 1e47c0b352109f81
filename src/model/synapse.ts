/** Decoded Synapse rows, as the source readers yield them: booleans, numbers, no driver types. */

/** The facts about a row's owner that every mapping needs, joined in by the reader. */
export interface SynapseOwner {
  /** The full user id, e.g. `@alice:example.com`. */
  name: string;
  /** `users.creation_ts`, in seconds (Synapse's unit), or null. */
  creationTs: number | null;
  admin: boolean;
  isGuest: boolean;
  deactivated: boolean;
  appserviceId: string | null;
}

/** A row of `users`. */
export interface SynapseUser extends SynapseOwner {
  passwordHash: string | null;
  locked: boolean;
  /** Some `user_external_ids` row names the user (an SSO user, not one known only by its localpart). */
  hasExternalId: boolean;
}

/** A row of `user_threepids` with its owner (null when no `users` row exists). */
export interface SynapseThreepid {
  userId: string;
  owner: SynapseOwner | null;
  medium: string;
  address: string;
  /** Milliseconds. */
  addedAt: number;
}

/** A row of `user_external_ids` with its owner. */
export interface SynapseExternalId {
  userId: string;
  owner: SynapseOwner | null;
  authProvider: string;
  externalId: string;
}

/** A row of `access_tokens`, with what its refresh token (if any) says. */
export interface SynapseAccessToken {
  id: number;
  userId: string;
  deviceId: string | null;
  token: string;
  /** Milliseconds or null. */
  validUntilMs: number | null;
  puppetsUserId: string | null;
  /** Milliseconds or null. */
  lastValidated: number | null;
  /** The paired refresh token, when `refresh_token_id` is set and the row exists. */
  refresh: SynapseRefreshToken | null;
}

/** A row of `refresh_tokens`, with the one fact about its successor that decides whether it is kept. */
export interface SynapseRefreshToken {
  id: number;
  token: string;
  /** True when `next_token_id` names a refresh token whose access token has `used = true`. */
  supersededAndUsed: boolean;
  /** `expiry_ts`: when the refresh token stops working (ms), or null for never. */
  expiryTs: number | null;
  /** `ultimate_session_expiry_ts`: when the whole session ends, refreshes or not (ms), or null for never. */
  ultimateSessionExpiryTs: number | null;
}

/** A row of `devices` with its owner and every access token on it. */
export interface SynapseDevice {
  userId: string;
  owner: SynapseOwner | null;
  deviceId: string;
  displayName: string | null;
  /** Milliseconds or null. */
  lastSeen: number | null;
  /** A valid IP literal, or null (unknown, `-`, or unparsable). */
  ip: string | null;
  /** True when Synapse had a value that is not an IP literal (and `ip` is null). */
  ipUnparsable: boolean;
  userAgent: string | null;
  /** `hidden IS TRUE`; NULL counts as visible. */
  hidden: boolean;
  tokens: SynapseAccessToken[];
}

/** An access token whose device is NULL, or names a device that does not exist. */
export interface SynapseLooseToken {
  owner: SynapseOwner | null;
  token: SynapseAccessToken;
}

/** A refresh token that no access token points at. */
export interface SynapseUnpairedRefreshToken {
  id: number;
  userId: string;
  owner: SynapseOwner | null;
}
