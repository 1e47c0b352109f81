/**
 * The SAML, CAS, LDAP-module and JWT users issue 15's `--link` carries over, added to a test's copy of a
 * Synapse sample (PostgreSQL or SQLite: the SQL is valid in both) with the rows Synapse 1.160 itself
 * writes for them, and the MAS providers such a server would put in front of them.
 *
 * Where the rows come from (element-hq/synapse and matrix-org/matrix-synapse-ldap3, read, not copied):
 * - `RegistrationWorkerStore._register_user` (storage/databases/main/registration.py) inserts
 *   `users(name, password_hash, creation_ts, is_guest, appservice_id, admin, user_type, shadow_banned,
 *   approved)`: `creation_ts` is `int(clock.time())`, in seconds; SSO and password modules pass no
 *   password (`password_hash` NULL), `is_guest` 0, `admin` 0, `user_type` NULL, `shadow_banned` false
 *   and `approved` true unless MSC3866 approval is on; `deactivated`, `locked` and `suspended` keep
 *   their defaults (0, false, false). With a display name it inserts `profiles(full_user_id, user_id,
 *   displayname)` (`user_id` is the localpart there), and with stats on a `user_stats_current` row.
 *   The registration handler uses the localpart as display name when none is given, and binds the
 *   emails it is handed as `user_threepids` with `validated_at` = `added_at` in milliseconds.
 * - `SsoHandler` (handlers/sso.py) registers the mapped user that way, then calls
 *   `record_user_external_id(auth_provider_id, remote_user_id, user_id)`: one `user_external_ids` row.
 *   SAML's `auth_provider` is `saml` and its remote user id is the mapping provider's, by default the
 *   `uid` attribute; the localpart comes from that attribute through `map_username_to_mxid_localpart`
 *   (lower case, every other byte as `=xx`). CAS's is `cas`, the CAS user name as the CAS server gives
 *   it (case kept), the localpart mapped the same way. An existing password user whose localpart the
 *   SAML attribute matches (`grandfathered_mxid_source_attribute`) gets the external id and keeps the password.
 * - `DeactivateAccountHandler.deactivate_account` deletes threepids, devices and tokens, sets the
 *   password hash to NULL and `deactivated` to 1, but never removes `user_external_ids`.
 * - `ldap_auth_provider` creates a user who logs in for the first time through the module API's
 *   `register_user(localpart, displayname, emails)`: no password, no external id.
 * - A JWT login (`LoginRestServlet._do_jwt_login`) registers an unknown subject claim as a localpart
 *   with `create_non_existent_users`: no password, no display name, no external id.
 *
 * Left out: `user_directory` (filled by a background process, only with `user_directory.search_all_users`)
 * and the devices and tokens of logins, which nothing here is about.
 */
import { uuidToUlidText } from "../../src/model/ids.ts";
import { FIXTURE_MAS_PROVIDERS } from "./fixtures.ts";
import type { Cluster } from "./postgres.ts";
import { GUESTS_OFF, prepareScenario, type Scenario, type ScenarioOptions } from "./scenario.ts";

/** After both samples' last registration (PostgreSQL 1795406894, SQLite about 1795407200), in seconds. */
const REGISTERED_AT = 1_795_410_000;

/** One user an SSO login or the LDAP module registered, as this fixture adds them. */
export interface SsoFixtureUser {
  localpart: string;
  displayname: string;
  /** `user_external_ids` rows: none for LDAP-module users. */
  external: { authProvider: "saml" | "cas"; externalId: string }[];
  email?: string;
  /** Deactivated after registration (threepids gone, external id kept). */
  deactivated?: boolean;
}

/** The users this fixture registers (the sample's user0016, which it only gives a SAML id, is {@link SAML_ON_PASSWORD_USER}). */
export const SSO_FIXTURE_USERS: readonly SsoFixtureUser[] = [
  {
    localpart: "sarah",
    displayname: "Sarah Connor",
    external: [{ authProvider: "saml", externalId: "sarah" }],
    email: "sarah@corp.example",
  },
  // A non-ASCII uid: the external id keeps it, the localpart is its hex escape.
  {
    localpart: "zo=c3=ab.m=c3=bcller",
    displayname: "Zoë Müller",
    external: [{ authProvider: "saml", externalId: "zoë.müller" }],
  },
  {
    localpart: "gone.saml",
    displayname: "Gone Saml",
    external: [{ authProvider: "saml", externalId: "gone.saml" }],
    deactivated: true,
  },
  // CAS names as the CAS server spells them: `@` and `.` (the localpart escapes `@`), and capitals.
  {
    localpart: "jane.doe=40corp.example",
    displayname: "jane.doe=40corp.example",
    external: [{ authProvider: "cas", externalId: "jane.doe@corp.example" }],
  },
  { localpart: "bob.smith", displayname: "bob.smith", external: [{ authProvider: "cas", externalId: "Bob.Smith" }] },
  { localpart: "ldap.ann", displayname: "Ann Ldap", external: [], email: "ann@ldap.example" },
  // Synapse refuses non-ASCII localparts; the display name from the directory keeps them.
  { localpart: "ldap.omer", displayname: "Ömer Ldap", external: [] },
  // A JWT login registers the token's subject the same way, with no display name (so the localpart).
  { localpart: "jwt.kim", displayname: "jwt.kim", external: [] },
];

/** A password user of the sample who later logged in through SAML with a matching uid. */
export const SAML_ON_PASSWORD_USER = { userId: "@user0016:example.com", externalId: "user0016" } as const;

function sqlText(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The rows Synapse writes for {@link SSO_FIXTURE_USERS} and {@link SAML_ON_PASSWORD_USER}, for PostgreSQL and SQLite alike. */
export function ssoFixtureSql(serverName = "example.com"): string {
  const statements: string[] = [];
  SSO_FIXTURE_USERS.forEach((user, index) => {
    const userId = `@${user.localpart}:${serverName}`;
    const createdAt = REGISTERED_AT + index;
    statements.push(
      `INSERT INTO users (name, password_hash, creation_ts, is_guest, appservice_id, admin, user_type, shadow_banned, approved, deactivated)
         VALUES (${sqlText(userId)}, NULL, ${createdAt}, 0, NULL, 0, NULL, false, true, ${user.deactivated === true ? 1 : 0});`,
      `INSERT INTO profiles (full_user_id, user_id, displayname) VALUES (${sqlText(userId)}, ${sqlText(user.localpart)}, ${sqlText(user.displayname)});`,
      `INSERT INTO user_stats_current (user_id, joined_rooms, completed_delta_stream_id)
         SELECT ${sqlText(userId)}, 0, coalesce(max(completed_delta_stream_id), -1) FROM user_stats_current;`,
    );
    for (const external of user.external) {
      statements.push(
        `INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES (${sqlText(external.authProvider)}, ${sqlText(external.externalId)}, ${sqlText(userId)});`,
      );
    }
    // Deactivation deleted the threepids.
    if (user.email !== undefined && user.deactivated !== true) {
      const boundAt = createdAt * 1000 + 250;
      statements.push(
        `INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES (${sqlText(userId)}, 'email', ${sqlText(user.email)}, ${boundAt}, ${boundAt});`,
      );
    }
  });
  statements.push(
    `INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ('saml', ${sqlText(SAML_ON_PASSWORD_USER.externalId)}, ${sqlText(SAML_ON_PASSWORD_USER.userId)});`,
  );
  return statements.join("\n");
}

/**
 * Synapse's configuration for those users (top-level overrides): SAML, CAS and JWT sign-in and the LDAP
 * module, as the server that wrote the rows ran with.
 */
export const SSO_SYNAPSE_OVERRIDES = {
  saml2_config: { sp_config: { metadata: { remote: [{ url: "https://idp.corp.example/saml2/metadata" }] } } },
  cas_config: { enabled: true, server_url: "https://cas.corp.example/cas" },
  jwt_config: { enabled: true, secret: "jwt-fixture-secret", algorithm: "HS256" },
  modules: [
    {
      module: "ldap_auth_provider.LdapAuthProviderModule",
      config: {
        enabled: true,
        uri: "ldap://ldap.corp.example:389",
        base: "ou=users,dc=corp,dc=example",
        attributes: { uid: "uid", mail: "mail", name: "cn" },
      },
    },
  ],
} as const;

/** A MAS upstream provider added for these users: its id as MAS stores it (UUID) and as `--link` takes it (ULID). */
export interface SsoProvider {
  uuid: string;
  ulid: string;
  issuer: string;
  humanName: string;
  clientId: string;
}

function provider(uuid: string, issuer: string, humanName: string, clientId: string): SsoProvider {
  return { uuid, ulid: uuidToUlidText(uuid), issuer, humanName, clientId };
}

/** One MAS provider per source: Dex with its SAML connector, CAS's own OIDC endpoint, Dex with its LDAP connector. */
export const SSO_PROVIDERS = {
  saml: provider("01966372-a0b1-4c2d-8e3f-405162738495", "https://dex-saml.corp.example", "Corporate SAML", "mas-saml"),
  cas: provider("01966372-b1c2-4d3e-9f40-516273849506", "https://cas.corp.example/cas/oidc", "Corporate CAS", "mas-cas"),
  ldap: provider("01966372-c2d3-4e4f-a051-627384950617", "https://dex-ldap.corp.example", "Corporate LDAP", "mas-ldap"),
} as const;

/** The `upstream_oauth_providers` rows `mas-cli config sync` writes for {@link SSO_PROVIDERS} (the columns of mas-providers.sql). */
export function ssoProvidersSql(): string {
  const rows = Object.values(SSO_PROVIDERS).map(
    (p) =>
      `(${sqlText(p.uuid)}, ${sqlText(p.issuer)}, ${sqlText(p.humanName)}, 'openid profile', ${sqlText(p.clientId)}, 'client_secret_basic', 'oidc', '2026-11-22 00:00:00+00')`,
  );
  return `INSERT INTO upstream_oauth_providers
  (upstream_oauth_provider_id, issuer, human_name, scope, client_id, token_endpoint_auth_method, discovery_mode, created_at)
VALUES ${rows.join(",\n  ")};`;
}

/** MAS's `upstream_oauth2` with the fixture's two providers and {@link SSO_PROVIDERS} (no `synapse_idp_id`: only `--link` maps them). */
export const SSO_MAS_OVERRIDES = {
  upstream_oauth2: {
    providers: [
      FIXTURE_MAS_PROVIDERS.keycloak,
      FIXTURE_MAS_PROVIDERS.github,
      ...Object.values(SSO_PROVIDERS).map((p) => ({
        id: p.ulid,
        issuer: p.issuer,
        human_name: p.humanName,
        client_id: p.clientId,
        client_secret: `${p.clientId}-secret`,
        token_endpoint_auth_method: "client_secret_basic",
        scope: "openid profile",
      })),
    ],
  },
} as const;

/** The scenario options of a server with those users: guest access off, SAML, CAS, JWT and LDAP on; MAS with the providers. */
export const SSO_SCENARIO_OPTIONS: ScenarioOptions = {
  synapseOverrides: { ...GUESTS_OFF, ...SSO_SYNAPSE_OVERRIDES },
  masOverrides: SSO_MAS_OVERRIDES,
};

/** A PostgreSQL scenario of the sample with those users added ({@link ssoFixtureSql}); MAS without their provider rows yet. */
export async function prepareSsoScenario(cluster: Cluster, name: string): Promise<Scenario> {
  const scenario = await prepareScenario(cluster, name, SSO_SCENARIO_OPTIONS);
  await cluster.sql(scenario.synapseDb, ssoFixtureSql());
  return scenario;
}
