/** Configuration inputs that more than one test file feeds to `config generate` and the checks. */
import fs from "node:fs";
import path from "node:path";
import { generateMasConfig, type GeneratedMasConfig } from "../../src/config/generate/mas-config.ts";
import { loadSynapseConfig } from "../../src/config/synapse.ts";
import { scratchDir } from "./scratch.ts";

/** The delegation `config generate` writes into homeserver.yaml (its secret must never be reported). */
export const DELEGATION = { endpoint: "https://auth.example.org/", secret: "shared-secret-0123456789" };

/** A homeserver.yaml with every setting Synapse refuses alongside MAS, and comments to keep. */
export const SYNAPSE_CONFLICTS_YAML = `# Top comment of the operator.
server_name: example.org
database: {name: psycopg2, args: {dbname: synapse}}
enable_registration: true # open sign-up
enable_registration_captcha: true
enable_3pid_changes: true
allow_guest_access: true
login_via_existing_session: {enabled: true}
user_consent: {version: "1.0", template_dir: /data/consent}
cas_config: {server_url: https://cas.example.org}
saml2_config: {sp_config: {}}
jwt_config: {enabled: true, secret: jwt-secret}
password_providers: [{module: ldap_auth_provider.LdapAuthProvider}]
oidc_config: {enabled: true, issuer: https://sso.example.org/, client_id: c}
session_lifetime: 24h
experimental_features: {msc3861: {enabled: true}, msc9999_enabled: true}
# The media store.
media_store_path: /data/media
`;

/** The smallest homeserver.yaml `config generate` takes: a server, its URL and a PostgreSQL database (whose password must never be reported). */
export const MINIMAL_SYNAPSE_YAML = `server_name: example.org
public_baseurl: https://matrix.example.org/
database:
  name: psycopg2
  args: {user: synapse, password: db-password-xyz, dbname: synapse, host: db.example.org}
`;

/** `config generate`'s result for {@link MINIMAL_SYNAPSE_YAML} plus `yaml`, written to a scratch directory named after `prefix`. */
export function generateFromYaml(yaml: string, prefix: string): GeneratedMasConfig {
  const file = path.join(scratchDir(prefix), "homeserver.yaml");
  fs.writeFileSync(file, MINIMAL_SYNAPSE_YAML + yaml);
  return generateMasConfig(loadSynapseConfig([file]));
}
