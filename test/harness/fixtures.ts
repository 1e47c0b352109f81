/** Absolute paths of the fixtures (test/fixtures, see its README) and a typed manifest loader. */

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/** The fixtures directory (read-only: use files in place; copy before changing anything). */
export const fixturesDir: string = fileURLToPath(new URL("../fixtures", import.meta.url));

const FIXTURES_URL = new URL("../fixtures/", import.meta.url);

function fixture(relative: string): string {
  return fileURLToPath(new URL(relative, FIXTURES_URL));
}

/** `pg_dump` of a real Synapse 1.160 PostgreSQL database (50 rows in `users`). */
export const synapseSmallSql: string = fixture("synapse/synapse-1.160-small.sql");
/** What {@link synapseSmallSql} holds: users with plaintext passwords, tokens, guests... */
export const synapseManifest: string = fixture("synapse/synapse-1.160-small.manifest.json");
/** Synapse 1.160 schema without data. */
export const synapseSchemaSql: string = fixture("synapse/synapse-1.160-schema.sql");
/** The Synapse configuration the fixture ran with (PostgreSQL; paths and database are placeholders). */
export const synapseHomeserverYaml: string = fixture("synapse/homeserver.yaml");
/** The application-service registration referenced by the homeserver configuration. */
export const appserviceBridgeYaml: string = fixture("synapse/appservice-bridge.yaml");
/** A real Synapse 1.160 SQLite database file (compare bytes; never write to it). */
export const synapseSqliteDb: string = fixture("synapse/synapse-1.160-sqlite-small.db");
/** What {@link synapseSqliteDb} holds (same shape as {@link synapseManifest}). */
export const synapseSqliteManifest: string = fixture("synapse/synapse-1.160-sqlite-small.manifest.json");
/** The Synapse configuration of the SQLite fixture. */
export const synapseHomeserverSqliteYaml: string = fixture("synapse/homeserver-sqlite.yaml");
/** {@link synapseSqliteDb} ported to PostgreSQL by `synapse_port_db`. */
export const synapseSqlitePortedSql: string = fixture("synapse/synapse-1.160-sqlite-small.ported.sql");
/** MAS configuration matching the homeserver fixture (database URI is a placeholder). */
export const masConfigYaml: string = fixture("mas/mas-config.yaml");
/** The `upstream_oauth_providers` rows `mas-cli config sync` writes; load after a MAS empty dump. */
export const masProvidersSql: string = fixture("mas/mas-providers.sql");

/** The password pepper of the fixture configurations (homeserver.yaml, homeserver-sqlite.yaml, mas-config.yaml). */
export const FIXTURE_PEPPER = "peppery-pepper-123";
/** The client secrets of the fixture configurations' Keycloak and GitHub providers. */
export const FIXTURE_CLIENT_SECRETS = { keycloak: "kc-secret", github: "gh-secret" } as const;
/** The secrets homeserver.yaml and mas-config.yaml both hold: no output, error or report may contain any of them. */
export const FIXTURE_SECRETS: readonly string[] = [
  FIXTURE_PEPPER,
  FIXTURE_CLIENT_SECRETS.keycloak,
  FIXTURE_CLIENT_SECRETS.github,
];
/** The secrets only mas-config.yaml holds (`matrix.secret`, `secrets.encryption`). */
export const FIXTURE_MAS_SECRETS = {
  matrix: "0123456789abcdef0123456789abcdef",
  encryption: "5a0e3c9d1b7f4e2a8c6d0b1a9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6",
} as const;
/**
 * The upstream providers of mas-config.yaml as MAS stores their ids (UUIDs of the ULIDs
 * 01JSHPZHAXC50QBKH67MH33TNF and 01JSHQ3M8W5V0X7T2NPRB6KD4C).
 */
export const FIXTURE_PROVIDER_IDS = {
  keycloak: "0196636f-c55d-6141-75ce-263d2231eaaf",
  github: "01966371-d11c-2ec1-d3e8-55b61669b48c",
} as const;

/** The `upstream_oauth2.providers` entries of mas-config.yaml, for tests that write them into a configuration of their own. */
export const FIXTURE_MAS_PROVIDERS = {
  keycloak: {
    id: "01JSHPZHAXC50QBKH67MH33TNF",
    synapse_idp_id: "oidc-keycloak",
    issuer: "https://id.example.com/realms/matrix",
    human_name: "Keycloak",
    client_id: "synapse",
    client_secret: FIXTURE_CLIENT_SECRETS.keycloak,
    token_endpoint_auth_method: "client_secret_basic",
    scope: "openid profile email",
  },
  github: {
    id: "01JSHQ3M8W5V0X7T2NPRB6KD4C",
    synapse_idp_id: "oidc-github",
    issuer: "https://github.com/",
    human_name: "GitHub",
    client_id: "gh-client",
    client_secret: FIXTURE_CLIENT_SECRETS.github,
    token_endpoint_auth_method: "client_secret_post",
    scope: "openid",
    discovery_mode: "disabled",
  },
} as const;

/** MAS releases with an empty-database fixture: the oldest supported and the newest. */
export type MasVersion = "1.0.0" | "1.22.0";

/** `pg_dump` of a MAS database right after that release's migrations ran (every table empty). */
export function masEmptySql(version: MasVersion): string {
  return fixture(`mas/mas-v${version}-empty.sql`);
}

/** A third-party identifier (email or phone number) of a manifest user. */
export interface ManifestThreepid {
  medium: "email" | "msisdn";
  address: string;
}

/** An upstream OIDC link of a manifest user; `auth_provider` is Synapse's (e.g. "oidc-keycloak"). */
export interface ManifestExternalId {
  auth_provider: string;
  external_id: string;
}

/** A user of the manifest (keyed by localpart). Absent flags mean false. */
export interface ManifestUser {
  /** Plaintext password; null for SSO-only users. */
  password: string | null;
  /** Filled with false by {@link loadSynapseManifest} when the file omits it. */
  admin: boolean;
  /** Filled with [] by {@link loadSynapseManifest} when the file omits it. */
  threepids: ManifestThreepid[];
  /** Filled with [] by {@link loadSynapseManifest} when the file omits it. */
  external: ManifestExternalId[];
  deactivated?: boolean;
  locked?: boolean;
  erased?: boolean;
  shadow_banned?: boolean;
  /** Registered through SSO only (no password). */
  sso?: boolean;
}

/** An access token of a manifest user (tokens of deactivated users were deleted by Synapse). */
export interface ManifestToken {
  /** Localpart. */
  user: string;
  token: string;
  device: string;
  refresh_token?: string;
  revoked_by_deactivation?: boolean;
  logged_out?: boolean;
}

/** A guest registration. */
export interface ManifestGuest {
  /** Full Matrix ID, e.g. "@1:example.com". */
  user_id: string;
  token: string;
  device: string;
}

/** A user registered by the application service. */
export interface ManifestAppserviceUser {
  user_id: string;
}

/** An impersonation (admin "login as user") token. */
export interface ManifestPuppet {
  /** Localpart. */
  user: string;
  token: string;
}

/** What the Synapse fixture database holds. */
export interface SynapseManifest {
  /** Server name, "example.com". */
  server: string;
  /** Users by localpart. */
  users: Record<string, ManifestUser>;
  tokens: ManifestToken[];
  guests: ManifestGuest[];
  appservice: ManifestAppserviceUser[];
  puppets: ManifestPuppet[];
}

type RawManifest = Omit<SynapseManifest, "users"> & { users: Record<string, Partial<ManifestUser>> };

/**
 * Reads a manifest ({@link synapseManifest} unless another path is given) and fills the fields that
 * the file leaves out for some users: `admin` (false), `threepids` and `external` ([]).
 */
export async function loadSynapseManifest(path: string = synapseManifest): Promise<SynapseManifest> {
  const raw = JSON.parse(await readFile(path, "utf8")) as RawManifest;
  const users: Record<string, ManifestUser> = {};
  for (const [localpart, user] of Object.entries(raw.users)) {
    users[localpart] = {
      ...user,
      password: user.password ?? null,
      admin: user.admin ?? false,
      threepids: user.threepids ?? [],
      external: user.external ?? [],
    };
  }
  return { ...raw, users };
}
