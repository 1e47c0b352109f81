/** Tests for synapseConfigRules: every code on the real fixture edited, each with near-misses that must stay quiet. */
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeSynapseConfig, type ConfigOverrides } from "../../test/harness/temp-config.ts";
import { loadSynapseConfig } from "../config/synapse.ts";
import type { SynapseConfig } from "../config/types.ts";
import { synapseConfigRules, type LinkCoverage } from "./synapse-config.ts";
import { parseLinkFlag } from "../config/link-rules.ts";
import type { MasId } from "../model/ids.ts";
import { assertRuleCase, type ExpectedFinding } from "../../test/harness/rule-case.ts";
import { scratchDir } from "../../test/harness/scratch.ts";

/** Secrets of the fixture and of the cases below: no message may contain any of them. */
const SECRETS = ["peppery-pepper-123", "kc-secret", "gh-secret", "ldap-bind-pw", "jwt-secret-xyz", "saml-key-pw", "legacy-pw"];

/** The fixture with guest access off: no finding of this module. */
const BASE: ConfigOverrides = { allow_guest_access: false };

/** The fixture homeserver.yaml, written to a temp directory with top-level overrides, then loaded. */
async function fixtureWith(overrides: ConfigOverrides): Promise<SynapseConfig> {
  const dir = scratchDir("syn2mas-synapse-rules-");
  return loadSynapseConfig([await writeSynapseConfig(dir, { overrides: { ...BASE, ...overrides } })]);
}

/** The fixture with extra YAML text appended (for forms such as an empty `cas_config:`). */
function fixtureWithText(yaml: string): SynapseConfig {
  const dir = scratchDir("syn2mas-synapse-rules-");
  const file = path.join(dir, "homeserver.yaml");
  fs.writeFileSync(file, "server_name: example.com\ndatabase: {name: psycopg2, args: {dbname: synapse}}\n" + yaml);
  return loadSynapseConfig([file]);
}

interface Case extends ExpectedFinding {
  name: string;
  /** Top-level keys set on the fixture, or YAML text for a minimal file. */
  config: ConfigOverrides | string;
}

const LDAP_MODULE = {
  module: "ldap_auth_provider.LdapAuthProviderModule",
  config: { uri: "ldap://ldap.example.com", bind_password: "ldap-bind-pw" },
};

const cases: Case[] = [
  {
    name: "registration on",
    config: { enable_registration: true },
    code: "REGISTRATION_ENABLED",
    severity: "warning",
    mentions: ["`enable_registration: false`"],
  },
  {
    name: "registration as a string, read by strtobool",
    config: { enable_registration: "yes" },
    code: "REGISTRATION_ENABLED",
    severity: "warning",
  },
  { name: "registration off", config: { enable_registration: false }, code: "REGISTRATION_ENABLED", severity: null },
  { name: 'registration "false" string', config: { enable_registration: "false" }, code: "REGISTRATION_ENABLED", severity: null },

  {
    name: "consent section",
    config: { user_consent: { version: "1.0", template_dir: "/data/consent" } },
    code: "USER_CONSENT",
    severity: "warning",
    mentions: ["`user_consent`", "`branding.tos_uri`"],
  },
  { name: "empty consent section", config: "user_consent:\n", code: "USER_CONSENT", severity: null },

  {
    name: "CAS with content",
    config: { cas_config: { server_url: "https://cas.example.com" } },
    code: "CAS_CONFIGURED",
    severity: "warning",
    mentions: ["`cas_config.enabled: false`", "`--link cas=<its ULID>`"],
  },
  {
    name: "CAS enabled: true",
    config: { cas_config: { enabled: true, server_url: "https://cas.example.com" } },
    code: "CAS_CONFIGURED",
    severity: "warning",
  },
  { name: "empty cas_config:", config: "cas_config:\n", code: "CAS_CONFIGURED", severity: null },
  { name: "cas_config: {}", config: { cas_config: {} }, code: "CAS_CONFIGURED", severity: null },
  {
    name: "CAS enabled: false",
    config: { cas_config: { enabled: false, server_url: "https://cas.example.com" } },
    code: "CAS_CONFIGURED",
    severity: null,
  },

  {
    name: "SAML with content",
    config: { saml2_config: { sp_config: { key_file: "/k", key_password: "saml-key-pw" } } },
    code: "SAML_CONFIGURED",
    severity: "warning",
    mentions: ["`saml2_config.enabled: false`"],
  },
  { name: "empty saml2_config:", config: "saml2_config:\n", code: "SAML_CONFIGURED", severity: null },
  {
    name: "SAML enabled: false",
    config: { saml2_config: { enabled: false, sp_config: {} } },
    code: "SAML_CONFIGURED",
    severity: null,
  },

  {
    name: "JWT enabled",
    config: { jwt_config: { enabled: true, secret: "jwt-secret-xyz", algorithm: "HS256" } },
    code: "JWT_CONFIGURED",
    severity: "warning",
    mentions: ["`jwt_config.enabled: false`"],
  },
  {
    name: "JWT without enabled",
    config: { jwt_config: { secret: "jwt-secret-xyz", algorithm: "HS256" } },
    code: "JWT_CONFIGURED",
    severity: null,
  },
  {
    name: "JWT enabled: false",
    config: { jwt_config: { enabled: false, secret: "jwt-secret-xyz" } },
    code: "JWT_CONFIGURED",
    severity: null,
  },
  { name: "empty jwt_config:", config: "jwt_config:\n", code: "JWT_CONFIGURED", severity: null },

  {
    name: "LDAP module",
    config: { modules: [LDAP_MODULE] },
    code: "PASSWORD_PROVIDER",
    severity: "warning",
    mentions: ["`ldap_auth_provider.LdapAuthProviderModule`", "`modules`"],
  },
  {
    name: "a module with auth in its name",
    config: { modules: [{ module: "synapse_token_authenticator.TokenAuthenticator" }] },
    code: "PASSWORD_PROVIDER",
    severity: "warning",
    mentions: ["synapse_token_authenticator.TokenAuthenticator"],
  },
  {
    name: "localdb off",
    config: { password_config: { enabled: true, localdb_enabled: false, pepper: "peppery-pepper-123" } },
    code: "PASSWORD_PROVIDER",
    severity: "warning",
    mentions: ["`password_config.localdb_enabled: false`"],
  },
  {
    name: "legacy password_providers",
    config: { password_providers: [{ module: "ldap_auth_provider.LdapAuthProvider", config: { bind_password: "legacy-pw" } }] },
    code: "PASSWORD_PROVIDER",
    severity: "warning",
    mentions: ["`password_providers`", "ldap_auth_provider.LdapAuthProvider"],
  },
  {
    name: "a module that is not about auth",
    config: { modules: [{ module: "synapse_spamcheck_badlist.BadListFilter", config: {} }] },
    code: "PASSWORD_PROVIDER",
    severity: null,
  },
  { name: "empty password_providers list", config: { password_providers: [] }, code: "PASSWORD_PROVIDER", severity: null },
  {
    name: "localdb on",
    config: { password_config: { enabled: true, localdb_enabled: true, pepper: "peppery-pepper-123" } },
    code: "PASSWORD_PROVIDER",
    severity: null,
  },

  {
    name: "3pid changes true",
    config: { enable_3pid_changes: true },
    code: "THREEPID_CHANGES_ENABLED",
    severity: "error",
    mentions: ["`enable_3pid_changes: false`", "`account.email_change_allowed: true`"],
  },
  { name: "3pid changes false", config: { enable_3pid_changes: false }, code: "THREEPID_CHANGES_ENABLED", severity: null },
  { name: "3pid changes unset", config: {}, code: "THREEPID_CHANGES_ENABLED", severity: null },

  {
    name: "login via existing session",
    config: { login_via_existing_session: { enabled: true } },
    code: "LOGIN_VIA_EXISTING_SESSION",
    severity: "error",
    mentions: ["`login_via_existing_session.enabled: false`"],
  },
  {
    name: "login via existing session off",
    config: { login_via_existing_session: { enabled: false, require_ui_auth: true } },
    code: "LOGIN_VIA_EXISTING_SESSION",
    severity: null,
  },
  {
    name: "empty login_via_existing_session:",
    config: "login_via_existing_session:\n",
    code: "LOGIN_VIA_EXISTING_SESSION",
    severity: null,
  },

  {
    name: "sqlite3",
    config: { database: { name: "sqlite3", args: { database: "/data/homeserver.db" } } },
    code: "UNSUPPORTED_DATABASE",
    severity: null,
  },
  {
    name: "another engine",
    config: { database: { name: "mysql", args: { database: "synapse" } } },
    code: "UNSUPPORTED_DATABASE",
    severity: "error",
    mentions: ["mysql", "psycopg2", "sqlite3"],
  },
  { name: "psycopg2", config: {}, code: "UNSUPPORTED_DATABASE", severity: null },
];

async function configOf(c: Case): Promise<SynapseConfig> {
  return typeof c.config === "string" ? fixtureWithText(c.config) : fixtureWith(c.config);
}

describe("synapseConfigRules", () => {
  it("finds nothing in the fixture with guest access off", async () => {
    assert.deepEqual(synapseConfigRules(await fixtureWith({})), []);
  });

  for (const c of cases) {
    it(`${c.severity === null ? "does not report" : "reports"} ${c.code}: ${c.name}`, async () => {
      const findings = synapseConfigRules(await configOf(c));
      assertRuleCase(findings, c, SECRETS);
    });
  }

  it("reports every password source in one PASSWORD_PROVIDER finding", async () => {
    const config = await fixtureWith({
      modules: [LDAP_MODULE, { module: "other.Module" }],
      password_providers: [{ module: "rest_auth_provider.RestAuthProvider" }],
      password_config: { localdb_enabled: false },
    });
    const found = synapseConfigRules(config).filter((f) => f.code === "PASSWORD_PROVIDER");
    assert.equal(found.length, 1);
    for (const text of ["localdb_enabled", "rest_auth_provider.RestAuthProvider", "ldap_auth_provider.LdapAuthProviderModule"]) {
      assert.ok(found[0]!.message.includes(text), text);
    }
    assert.ok(!found[0]!.message.includes("other.Module"));
  });
});

describe("synapseConfigRules: the SSO and password-module findings against the run's links", () => {
  const ULID = "01JB0000000000000000000000";
  const linksOf = (...flags: string[]) => new Map(flags.map((f) => [parseLinkFlag(f).source, parseLinkFlag(f)]));
  const LDAP = { modules: [LDAP_MODULE] };
  const coverageCases: {
    name: string;
    config: ConfigOverrides;
    coverage: LinkCoverage;
    code: string;
    severity: "warning" | "info";
    mentions: string[];
  }[] = [
    {
      name: "SAML, no link: names the flag to pass",
      config: { saml2_config: { sp_config: {} } },
      coverage: {},
      code: "SAML_CONFIGURED",
      severity: "warning",
      mentions: ["`--link saml=<its ULID>:dex:saml:{external_id}`"],
    },
    {
      name: "SAML covered by --link saml",
      config: { saml2_config: { sp_config: {} } },
      coverage: { links: linksOf(`saml=${ULID}:dex:saml:{external_id}`) },
      code: "SAML_CONFIGURED",
      severity: "info",
      mentions: [`\`--link saml=${ULID}:dex:saml:{external_id}\``, "`saml2_config.enabled: false`"],
    },
    {
      name: "SAML covered by a provider with synapse_idp_id: saml",
      config: { saml2_config: { sp_config: {} } },
      coverage: { providers: new Map([["saml", "0192f000-0000-0000-0000-000000000000" as MasId]]) },
      code: "SAML_CONFIGURED",
      severity: "info",
      mentions: ["`synapse_idp_id: saml`"],
    },
    {
      name: "SAML not covered by a --link for cas",
      config: { saml2_config: { sp_config: {} } },
      coverage: { links: linksOf(`cas=${ULID}`) },
      code: "SAML_CONFIGURED",
      severity: "warning",
      mentions: ["`--link saml=<its ULID>"],
    },
    {
      name: "CAS covered by --link cas",
      config: { cas_config: { server_url: "https://cas.example.com" } },
      coverage: { links: linksOf(`cas=${ULID}`) },
      code: "CAS_CONFIGURED",
      severity: "info",
      mentions: [`\`--link cas=${ULID}\``],
    },
    {
      name: "JWT covered by --link localpart",
      config: { jwt_config: { enabled: true, secret: "jwt-secret-xyz", algorithm: "HS256" } },
      coverage: { links: linksOf(`localpart=${ULID}`) },
      code: "JWT_CONFIGURED",
      severity: "info",
      mentions: [`\`--link localpart=${ULID}\``],
    },
    {
      name: "JWT, no link",
      config: { jwt_config: { enabled: true, secret: "jwt-secret-xyz", algorithm: "HS256" } },
      coverage: {},
      code: "JWT_CONFIGURED",
      severity: "warning",
      mentions: ["`--link localpart=<its ULID>[:SUBJECT]`"],
    },
    {
      name: "LDAP module, no link",
      config: LDAP,
      coverage: { providers: new Map([["localpart", "0192f000-0000-0000-0000-000000000000" as MasId]]) },
      code: "PASSWORD_PROVIDER",
      severity: "warning",
      mentions: ["`--link localpart=<its ULID>:dex:ldap:{localpart}`"],
    },
    {
      name: "LDAP module covered by --link localpart with Dex's LDAP connector",
      config: LDAP,
      coverage: { links: linksOf(`localpart=${ULID}:dex:ldap:{localpart}`) },
      code: "PASSWORD_PROVIDER",
      severity: "info",
      mentions: [`\`--link localpart=${ULID}:dex:ldap:{localpart}\``, "ldap_auth_provider.LdapAuthProviderModule"],
    },
  ];
  for (const c of coverageCases) {
    it(c.name, async () => {
      const found = synapseConfigRules(await fixtureWith(c.config), c.coverage).filter((f) => f.code === c.code);
      assert.equal(found.length, 1);
      assert.equal(found[0]!.severity, c.severity);
      for (const text of c.mentions) assert.ok(found[0]!.message.includes(text), `${text} in ${found[0]!.message}`);
      for (const secret of SECRETS) assert.ok(!found[0]!.message.includes(secret));
    });
  }
});
