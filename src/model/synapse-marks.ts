/**
 * Synapse's high-water marks, read in the migration's own snapshot and kept in its record: what
 * Synapse held when it was migrated, so that `status` can tell whether it gained users, devices or
 * tokens since (it ran on without delegating to MAS).
 */
export interface SynapseMarks {
  /** Rows of `users`. */
  users: number;
  /** The newest `users.creation_ts`, in seconds (Synapse's unit); null without users. */
  maxUserCreationTs: number | null;
  /** Rows of `devices`. */
  devices: number;
  /** The highest `access_tokens.id` (Synapse allocates them in increasing order); null without tokens. */
  maxAccessTokenId: number | null;
  /** The highest `refresh_tokens.id`; null without refresh tokens. */
  maxRefreshTokenId: number | null;
}
