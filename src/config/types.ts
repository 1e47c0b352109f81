/** Plain shapes of the configuration this tool reads: what the loaders produce and the rest consumes. */

/** libpq-style connection settings, from Synapse's `database.args`, MAS's `database` or a URI. */
export interface PgConnectionSettings {
  host?: string; // a host name, an IP, or a Unix-socket directory (starts with "/")
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  sslmode?: "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
  sslrootcert?: string; // file path
  sslcert?: string; // file path
  sslkey?: string; // file path
  options?: string; // libpq "options", e.g. "-c search_path=synapse"
}

/** One OIDC provider as Synapse defines it (`oidc_providers[]` or legacy `oidc_config`). */
export interface SynapseOidcProvider {
  /** What Synapse writes in `user_external_ids.auth_provider`: `oidc` or `oidc-<idp_id>`. */
  authProviderId: string;
  idpId: string | undefined;
  /** The raw YAML mapping, for `config generate`. */
  raw: Record<string, unknown>;
}

export interface SynapseConfig {
  /** The files read, in order (for messages). */
  files: string[];
  serverName: string;
  /** `psycopg2` or `sqlite3` (or anything else the file says, for UNSUPPORTED_DATABASE). */
  databaseEngine: string;
  /** For psycopg2: the connection settings (unset values fall back to PG* at connect time). */
  database: PgConnectionSettings;
  /** For sqlite3: `database.args.database`. */
  sqlitePath: string | undefined;
  /**
   * The key holding the main database's settings (`database`, or `databases.<name>`); undefined when
   * the files have none and Synapse's default applies (SQLite, `homeserver.db` in the working directory).
   */
  databaseKey?: string;
  passwordsEnabled: boolean | "only_for_reauth";
  localdbEnabled: boolean;
  pepper: string | undefined;
  bcryptRounds: number | undefined;
  oidcProviders: SynapseOidcProvider[];
  /**
   * The key through which Synapse delegates authentication to MAS (`matrix_authentication_service`,
   * or the older `experimental_features.msc3861`, with `enabled: true`); unset when it does not.
   */
  authDelegation?: "matrix_authentication_service" | "experimental_features.msc3861";
  /** The merged top-level YAML mapping, for rules that read other keys. */
  raw: Record<string, unknown>;
}

export interface MasPasswordScheme {
  version: number;
  algorithm: string;
  cost?: number;
  /** The pepper: `secret`, or the content of `secret_file`. */
  secret?: string;
  /** The `secret_file` path when the pepper came from a file (its content is in `secret`, byte for byte). */
  secretFile?: string;
  unicodeNormalization: boolean;
}

export interface MasUpstreamProvider {
  /** The provider's ULID as written in the config. */
  id: string;
  synapseIdpId: string | undefined;
  issuer: string | undefined;
  humanName: string | undefined;
}

export interface MasConfig {
  files: string[];
  database: PgConnectionSettings;
  homeserver: string | undefined;
  endpoint: string | undefined;
  passwordsEnabled: boolean;
  passwordSchemes: MasPasswordScheme[];
  upstreamProviders: MasUpstreamProvider[];
  /** `captcha.service` (e.g. `recaptcha_v2`); unset when MAS asks for no CAPTCHA. */
  captchaService?: string;
  /** `branding.tos_uri`: the terms of service MAS asks new users to accept. */
  tosUri?: string;
  /** The merged YAML mapping. */
  raw: Record<string, unknown>;
}
