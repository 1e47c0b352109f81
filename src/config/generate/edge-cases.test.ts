/** Tests for generateMasConfig on edge inputs: empty sections, legacy and unusual providers, SSO and LDAP, disabled passwords. */
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { UserError } from "../../errors/user-error.ts";
import { generateMasConfig, type GeneratedMasConfig } from "./mas-config.ts";
import type { ReportEntry } from "./report.ts";
import { loadSynapseConfig } from "../synapse.ts";
import { scratchDir } from "../../../test/harness/scratch.ts";
import { generateFromYaml } from "../../../test/harness/config-cases.ts";

type Obj = Record<string, any>;

function tempDir(): string {
  return scratchDir("syn2mas-generate-edge-");
}

function generate(yaml: string): GeneratedMasConfig & { c: Obj; providers: Obj[] } {
  const generated = generateFromYaml(yaml, "syn2mas-generate-edge-");
  const c = generated.config as Obj;
  return { ...generated, c, providers: (c.upstream_oauth2?.providers ?? []) as Obj[] };
}

function entry(entries: readonly ReportEntry[], setting: string): ReportEntry | undefined {
  return entries.find((e) => e.setting === setting);
}

function assertNoSecret(entries: readonly ReportEntry[], secrets: string[]): void {
  const text = JSON.stringify(entries);
  for (const secret of secrets) assert.ok(!text.includes(secret), `the report holds the secret ${secret.slice(0, 3)}...`);
}

describe("generateMasConfig on edge inputs", () => {
  it("takes empty sections as unset, without reporting them as enabled", () => {
    const g = generate(
      "cas_config:\nsaml2_config:\njwt_config:\noidc_providers:\noidc_config:\npassword_config:\nemail:\nmodules:\npassword_providers:\n",
    );
    assert.equal(g.c.passwords.enabled, true);
    assert.equal(g.c.passwords.schemes[0].algorithm, "bcrypt");
    assert.equal(g.c.passwords.schemes[0].secret, undefined, "no pepper");
    assert.equal(g.c.upstream_oauth2, undefined);
    assert.equal(g.c.email, undefined);
    for (const key of ["cas_config", "saml2_config", "jwt_config", "oidc_config", "modules", "password_providers"]) {
      assert.equal(entry(g.report.entries, key), undefined, `${key} reported`);
    }
    assertNoSecret(g.report.entries, ["db-password-xyz"]);
    assert.deepEqual(g.c.database, { host: "db.example.org", username: "synapse", password: "db-password-xyz", database: "mas" });
  });

  it("maps the legacy oidc_config to synapse_idp_id oidc, and ignores one without enabled: true", () => {
    const legacy = "oidc_config:\n  issuer: https://sso.example.org/\n  client_id: legacy\n  client_secret: legacy-secret-1\n";
    const on = generate(`${legacy}  enabled: true\n`);
    assert.equal(on.providers.length, 1);
    assert.equal(on.providers[0]?.synapse_idp_id, "oidc");
    assert.equal(on.providers[0]?.discovery_mode, "oidc");
    assert.equal(on.providers[0]?.enabled, undefined, "Synapse's enabled flag is not a provider setting");
    assert.equal(entry(on.report.entries, "oidc_config")?.action, "mapped");
    const off = generate(legacy);
    assert.equal(off.providers.length, 0);
    assert.equal(entry(off.report.entries, "oidc_config")?.action, "not-carried-over");
    assertNoSecret([...on.report.entries, ...off.report.entries], ["legacy-secret-1"]);
  });

  it("maps a provider without idp_id, scopes or secret to oidc, openid and none", () => {
    const g = generate("oidc_providers:\n  - issuer: https://sso.example.org/\n    client_id: public-client\n");
    const p = g.providers[0] as Obj;
    assert.equal(p.synapse_idp_id, "oidc");
    assert.equal(p.scope, "openid");
    assert.equal(p.token_endpoint_auth_method, "none");
    assert.equal(p.client_secret, undefined);
    assert.equal(p.discovery_mode, "oidc");
    assert.equal(p.fetch_userinfo, false);
    assert.equal(p.claims_imports, undefined);
  });

  it("reads client_secret_path, and names the key when the file is missing", () => {
    const dir = tempDir();
    const secretFile = path.join(dir, "client-secret");
    fs.writeFileSync(secretFile, "file-secret-abc\n");
    const provider = (file: string) =>
      `oidc_providers:\n  - idp_id: corp\n    issuer: https://sso.example.org/\n    client_id: c\n    client_secret_path: ${file}\n    client_auth_method: client_secret_post\n`;
    const g = generate(provider(secretFile));
    assert.equal(g.providers[0]?.client_secret, "file-secret-abc");
    assert.equal(g.providers[0]?.token_endpoint_auth_method, "client_secret_post");
    assert.equal(entry(g.report.entries, "oidc_providers[0].client_secret_path")?.action, "changed");
    assertNoSecret(g.report.entries, ["file-secret-abc"]);
    const missing = path.join(dir, "nope");
    assert.throws(
      () => generate(provider(missing)),
      (err: unknown) =>
        err instanceof UserError &&
        err.message.includes("oidc_providers[0].client_secret_path") &&
        err.message.includes(missing) &&
        !err.message.includes("\n"),
    );
  });

  it("maps skip_verification to insecure discovery, and discover: false to disabled", () => {
    const provider = (extra: string) =>
      `oidc_providers:\n  - idp_id: x\n    issuer: https://sso.example.org/\n    client_id: c\n    skip_verification: true\n${extra}`;
    const insecure = generate(provider(""));
    assert.equal(insecure.providers[0]?.discovery_mode, "insecure");
    assert.equal(entry(insecure.report.entries, "oidc_providers[0].skip_verification")?.action, "changed");
    const disabled = generate(
      provider(
        "    discover: false\n    authorization_endpoint: https://sso.example.org/a\n    token_endpoint: https://sso.example.org/t\n",
      ),
    );
    assert.equal(disabled.providers[0]?.discovery_mode, "disabled");
  });

  it("suggests every attribute with confirm_localpart, and prefers subject_template to subject_claim", () => {
    const g = generate(`oidc_providers:
  - idp_id: x
    issuer: https://sso.example.org/
    client_id: c
    user_mapping_provider:
      config:
        subject_claim: uid
        subject_template: "{{ user.oid }}"
        localpart_template: "{{ user.nickname }}"
        display_name_template: "{{ user.given_name }} {{ user.family_name }}"
        email_template: "{{ user.mail }}"
        confirm_localpart: true
`);
    assert.deepEqual(g.providers[0]?.claims_imports, {
      subject: { template: "{{ user.oid }}" },
      localpart: { action: "suggest", template: "{{ user.nickname }}" },
      displayname: { action: "suggest", template: "{{ user.given_name }} {{ user.family_name }}" },
      email: { action: "suggest", template: "{{ user.mail }}" },
    });
    assert.equal(entry(g.report.entries, "oidc_providers[0].user_mapping_provider.config.subject_claim")?.action, "changed");
  });

  it("reports CAS, SAML, JWT, password providers and an LDAP module as not carried over, without their secrets", () => {
    const g = generate(`cas_config:
  server_url: https://cas.example.org
saml2_config:
  sp_config: {metadata: {remote: [{url: https://idp.example.org/metadata}]}}
jwt_config:
  enabled: true
  secret: jwt-secret-xyz
  algorithm: HS256
password_providers:
  - module: ldap_auth_provider.LdapAuthProvider
    config: {bind_password: legacy-bind-pw}
modules:
  - module: ldap_auth_provider.LdapAuthProviderModule
    config: {uri: ldap://ldap.example.org, bind_password: ldap-bind-pw}
  - module: my_spam_checker.SpamChecker
`);
    for (const key of ["cas_config", "saml2_config", "jwt_config", "password_providers"]) {
      assert.equal(entry(g.report.entries, key)?.action, "not-carried-over", key);
    }
    const modules = g.report.entries.filter((e) => e.setting === "modules");
    assert.equal(modules.length, 2);
    assert.equal(modules[0]?.action, "not-carried-over");
    assert.match(modules[0]?.message ?? "", /ldap_auth_provider\.LdapAuthProviderModule/);
    assert.equal(modules[1]?.action, "mapped");
    assertNoSecret(g.report.entries, ["jwt-secret-xyz", "legacy-bind-pw", "ldap-bind-pw"]);
  });

  it("does not report CAS or SAML with enabled: false, nor JWT without enabled: true", () => {
    const g = generate(
      "cas_config: {enabled: false, server_url: https://cas.example.org}\nsaml2_config: {enabled: false, sp_config: {}}\njwt_config: {secret: s}\n",
    );
    for (const key of ["cas_config", "saml2_config", "jwt_config"]) assert.equal(entry(g.report.entries, key), undefined, key);
  });

  it("turns MAS passwords off when Synapse's are off", () => {
    const g = generate("password_config:\n  enabled: false\n  pepper: unused-pepper-1\nenable_registration: true\n");
    assert.deepEqual(g.c.passwords, { enabled: false });
    assert.equal(g.c.account.password_registration_enabled, false);
    assert.equal(g.c.account.login_with_email_allowed, undefined);
    assert.equal(entry(g.report.entries, "password_config.enabled")?.action, "mapped");
    assertNoSecret(g.report.entries, ["unused-pepper-1"]);
  });

  it("keeps passwords for only_for_reauth and reports the change", () => {
    const g = generate("password_config:\n  enabled: only_for_reauth\n  pepper: reauth-pepper-1\nbcrypt_rounds: 10\n");
    assert.equal(g.c.passwords.enabled, true);
    assert.deepEqual(g.c.passwords.schemes[0], {
      version: 1,
      algorithm: "bcrypt",
      cost: 10,
      secret: "reauth-pepper-1",
      unicode_normalization: true,
    });
    const line = entry(g.report.entries, "password_config.enabled");
    assert.equal(line?.action, "changed");
    assert.match(line?.message ?? "", /only_for_reauth/);
    assertNoSecret(g.report.entries, ["reauth-pepper-1"]);
  });

  it("maps SMTP, reCAPTCHA and registration", () => {
    const g = generate(`email:
  smtp_host: mail.example.org
  smtp_port: 587
  smtp_user: mailer
  smtp_pass: smtp-pass-xyz
  require_transport_security: true
  notif_from: "%(app)s <noreply@example.org>"
  app_name: Example Chat
  enable_notifs: true
enable_registration: true
registrations_require_3pid: [email]
enable_registration_captcha: true
recaptcha_public_key: site-key
recaptcha_private_key: recaptcha-private-xyz
enable_set_display_name: false
`);
    assert.deepEqual(g.c.email, {
      from: "Example Chat <noreply@example.org>",
      reply_to: "Example Chat <noreply@example.org>",
      transport: "smtp",
      mode: "starttls",
      hostname: "mail.example.org",
      port: 587,
      username: "mailer",
      password: "smtp-pass-xyz",
    });
    assert.deepEqual(g.c.captcha, { service: "recaptcha_v2", site_key: "site-key", secret_key: "recaptcha-private-xyz" });
    assert.equal(g.c.account.password_registration_enabled, true);
    assert.equal(g.c.account.password_registration_email_required, true);
    assert.equal(g.c.account.password_recovery_enabled, true);
    assert.equal(g.c.account.displayname_change_allowed, false);
    assertNoSecret(g.report.entries, ["smtp-pass-xyz", "recaptcha-private-xyz"]);
  });

  it("maps response_mode, other parameters and back-channel logout, and reports what MAS lacks", () => {
    const g = generate(`oidc_providers:
  - idp_id: x
    issuer: https://sso.example.org/
    client_id: c
    client_secret: provider-secret-1
    additional_authorization_parameters: {response_mode: form_post, acr_values: mfa}
    forward_login_hint: true
    backchannel_logout_enabled: true
    attribute_requirements: [{attribute: groups, value: matrix}]
    idp_icon: mxc://example.org/icon
    user_mapping_provider:
      module: my_mapper.Mapper
`);
    const p = g.providers[0] as Obj;
    assert.equal(p.response_mode, "form_post");
    assert.deepEqual(p.additional_authorization_parameters, { acr_values: "mfa" });
    assert.equal(p.forward_login_hint, true);
    assert.equal(p.on_backchannel_logout, "logout_all");
    assert.equal(p.claims_imports, undefined);
    for (const key of ["attribute_requirements", "idp_icon", "user_mapping_provider.module"]) {
      assert.equal(entry(g.report.entries, `oidc_providers[0].${key}`)?.action, "not-carried-over", key);
    }
    assertNoSecret(g.report.entries, ["provider-secret-1"]);
  });

  it("leaves a placeholder database for SQLite and a Unix socket as socket", () => {
    const file = path.join(tempDir(), "homeserver.yaml");
    fs.writeFileSync(file, "server_name: example.org\ndatabase: {name: sqlite3, args: {database: /data/homeserver.db}}\n");
    const sqlite = generateMasConfig(loadSynapseConfig([file])).config as Obj;
    assert.deepEqual(sqlite.database, { uri: "postgresql://mas@localhost/mas" });
    assert.equal(sqlite.matrix.endpoint, "https://example.org/");
    fs.writeFileSync(file, "server_name: example.org\ndatabase: {name: psycopg2, args: {host: /run/postgresql, dbname: mas}}\n");
    const socket = generateMasConfig(loadSynapseConfig([file])).config as Obj;
    assert.deepEqual(socket.database, { socket: "/run/postgresql", database: "mas_auth" });
  });
});
