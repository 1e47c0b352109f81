/** Tests for generateMasConfig on the real fixture homeserver.yaml: concrete values, fresh secrets, valid keys, clean report. */
import { createPrivateKey } from "node:crypto";
import { fileURLToPath } from "node:url";
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import YAML from "yaml";
import { ulidTextToUuid, ulidTimeMs } from "../../model/ids.ts";
import { generateMasConfig, masConfigYaml, type GeneratedMasConfig } from "./mas-config.ts";
import { renderConversionReport } from "./report.ts";
import { loadSynapseConfig } from "../synapse.ts";
import type { SynapseConfig } from "../types.ts";
import { FIXTURE_SECRETS } from "../../../test/harness/fixtures.ts";

const HOMESERVER = fileURLToPath(new URL("../../../test/fixtures/synapse/homeserver.yaml", import.meta.url));

type Obj = Record<string, any>;

describe("generateMasConfig from the fixture homeserver.yaml", () => {
  let synapse: SynapseConfig;
  let first: GeneratedMasConfig;
  let second: GeneratedMasConfig;
  let config: Obj;
  let providers: Obj[];

  before(() => {
    synapse = loadSynapseConfig([HOMESERVER]);
    first = generateMasConfig(synapse);
    second = generateMasConfig(loadSynapseConfig([HOMESERVER]));
    config = first.config as Obj;
    providers = config.upstream_oauth2.providers as Obj[];
  });

  it("maps the homeserver: server name, endpoint, kind", () => {
    assert.equal(config.matrix.homeserver, "example.com");
    assert.equal(config.matrix.endpoint, "http://127.0.0.1:8008/");
    assert.equal(config.matrix.kind, "synapse");
    assert.equal(config.http.public_base, "http://127.0.0.1:8080/");
    assert.equal(first.publicBase, "http://127.0.0.1:8080/");
    assert.deepEqual(config.http.listeners[0].binds, [{ address: "[::]:8080" }]);
  });

  it("prefills the database with Synapse's server and a new database name", () => {
    assert.deepEqual(config.database, { host: "127.0.0.1", port: 5432, username: "postgres", database: "mas" });
  });

  it("keeps passwords: scheme 1 bcrypt with the pepper and unicode_normalization, scheme 2 argon2id", () => {
    assert.equal(config.passwords.enabled, true);
    assert.deepEqual(config.passwords.schemes, [
      { version: 1, algorithm: "bcrypt", cost: 12, secret: "peppery-pepper-123", unicode_normalization: true },
      { version: 2, algorithm: "argon2id" },
    ]);
  });

  it("maps the account settings", () => {
    assert.deepEqual(config.account, {
      email_change_allowed: true,
      displayname_change_allowed: true,
      password_registration_enabled: false,
      login_with_email_allowed: true,
      password_recovery_enabled: false,
    });
    assert.equal(config.email, undefined);
    assert.equal(config.captcha, undefined);
  });

  it("maps Keycloak with its scopes, auth method, discovery mode, endpoints and claim templates", () => {
    const keycloak = providers[0] as Obj;
    assert.equal(keycloak.synapse_idp_id, "oidc-keycloak");
    assert.equal(keycloak.issuer, "https://id.example.com/realms/matrix");
    assert.equal(keycloak.human_name, "Keycloak");
    assert.equal(keycloak.client_id, "synapse");
    assert.equal(keycloak.client_secret, "kc-secret");
    assert.equal(keycloak.scope, "openid profile email");
    assert.equal(keycloak.token_endpoint_auth_method, "client_secret_basic");
    assert.equal(keycloak.discovery_mode, "disabled");
    assert.equal(keycloak.fetch_userinfo, false);
    assert.equal(keycloak.jwks_uri, "https://id.example.com/jwks");
    assert.equal(keycloak.token_endpoint, "https://id.example.com/token");
    assert.deepEqual(keycloak.claims_imports, {
      localpart: { action: "require", template: "{{ user.preferred_username }}" },
      displayname: { action: "force", template: "{{ user.name }}" },
      email: { action: "force", template: "{{ user.email }}" },
    });
  });

  it("maps GitHub: its own scope, the userinfo endpoint, subject from subject_claim", () => {
    const github = providers[1] as Obj;
    assert.equal(providers.length, 2);
    assert.equal(github.synapse_idp_id, "oidc-github");
    assert.equal(github.human_name, "GitHub");
    assert.equal(github.client_secret, "gh-secret");
    assert.equal(github.scope, "read:user");
    assert.equal(github.token_endpoint_auth_method, "client_secret_basic");
    assert.equal(github.discovery_mode, "disabled");
    assert.equal(github.fetch_userinfo, true);
    assert.equal(github.userinfo_endpoint, "https://api.github.com/user");
    assert.deepEqual(github.claims_imports, {
      subject: { template: "{{ user.id }}" },
      localpart: { action: "require", template: "{{ user.login }}" },
      displayname: { action: "force", template: "{{ user.name }}" },
    });
  });

  it("gives each provider a fresh ULID of the current time", () => {
    const ids = [...providers, ...(second.config as Obj).upstream_oauth2.providers].map((p: Obj) => p.id as string);
    assert.equal(new Set(ids).size, 4);
    for (const id of ids) {
      assert.match(id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
      const uuid = ulidTextToUuid(id);
      assert.ok(uuid !== undefined);
      assert.ok(Math.abs(ulidTimeMs(uuid) - Date.now()) < 60_000, "the time part is now");
    }
  });

  it("generates secrets, distinct between two runs", () => {
    const a = config.secrets;
    const b = (second.config as Obj).secrets;
    assert.match(a.encryption, /^[0-9a-f]{64}$/);
    assert.match(config.matrix.secret, /^[0-9a-f]{64}$/);
    assert.notEqual(a.encryption, b.encryption);
    assert.notEqual(config.matrix.secret, (second.config as Obj).matrix.secret);
    assert.notEqual(a.keys[0].key, b.keys[0].key);
    assert.notEqual(a.keys[1].key, b.keys[1].key);
    assert.equal(first.secrets.matrixSecret, config.matrix.secret);
  });

  it("generates an RSA 2048 and an EC P-256 key that parse as PKCS#8 PEM", () => {
    const [rsa, ec] = config.secrets.keys as { kid: string; key: string }[];
    assert.ok(rsa !== undefined && ec !== undefined);
    assert.notEqual(rsa.kid, ec.kid);
    for (const { key } of [rsa, ec]) assert.match(key, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    const rsaKey = createPrivateKey(rsa.key);
    assert.equal(rsaKey.asymmetricKeyType, "rsa");
    assert.equal(rsaKey.asymmetricKeyDetails?.modulusLength, 2048);
    const ecKey = createPrivateKey(ec.key);
    assert.equal(ecKey.asymmetricKeyType, "ec");
    assert.equal(ecKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  });

  it("writes YAML that reads back as the same configuration, with comments where the operator must act", () => {
    const text = masConfigYaml(first);
    assert.deepEqual(YAML.parse(text), first.config);
    assert.match(text, /^# MAS configuration generated by syn2mas/);
    assert.match(text, /# ACTION: MAS needs its own, EMPTY PostgreSQL database/);
    assert.match(text, /# Generated: keep them\./);
    assert.match(text, /mas-cli config sync/);
  });

  it("reports what it did without any secret", () => {
    const entries = first.report.entries;
    const text = JSON.stringify(entries) + renderConversionReport(entries);
    for (const secret of [...FIXTURE_SECRETS, config.matrix.secret, config.secrets.encryption]) {
      assert.ok(!text.includes(secret), "the report holds a secret");
    }
    const find = (setting: string) => entries.find((e) => e.setting === setting);
    assert.equal(find("server_name")?.action, "mapped");
    assert.equal(find("oidc_providers[0]")?.action, "mapped");
    assert.match(find("oidc_providers[1]")?.message ?? "", /synapse_idp_id: oidc-github/);
    assert.equal(find("allow_guest_access")?.action, "not-carried-over");
    assert.equal(find("refresh_token_lifetime")?.action, "not-carried-over");
    assert.equal(find("database")?.action, "changed");
    assert.equal(find("password_config.bcrypt_rounds")?.action, "not-carried-over");
    assert.ok(entries.every((e) => e.target === "mas"));
  });
});
