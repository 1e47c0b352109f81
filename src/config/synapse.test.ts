/** Tests for loadSynapseConfig: the real fixtures, every lenient form Synapse accepts, and the error messages. */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadSynapseConfig } from "./synapse.ts";
import { scratchDir, writeScratchFiles } from "../../test/harness/scratch.ts";
import { assertUserError } from "../../test/harness/user-error.ts";

const FIXTURES = fileURLToPath(new URL("../../test/fixtures/synapse/", import.meta.url));

function tempDir(): string {
  return scratchDir("syn2mas-synapse-config-");
}

function load(yaml: string) {
  return loadSynapseConfig(writeScratchFiles("syn2mas-synapse-config-", { "homeserver.yaml": yaml }));
}

const BASE = "server_name: example.org\n";

describe("loadSynapseConfig with the fixtures", () => {
  it("loads the PostgreSQL homeserver.yaml", () => {
    const file = path.join(FIXTURES, "homeserver.yaml");
    const config = loadSynapseConfig([file]);
    assert.deepEqual(config.files, [file]);
    assert.equal(config.serverName, "example.com");
    assert.equal(config.pepper, "peppery-pepper-123");
    assert.equal(config.passwordsEnabled, true);
    assert.equal(config.localdbEnabled, true);
    assert.equal(config.databaseEngine, "psycopg2");
    assert.deepEqual(config.database, { host: "127.0.0.1", port: 5432, database: "synapse", user: "postgres" });
    assert.deepEqual(
      config.oidcProviders.map((p) => [p.authProviderId, p.idpId]),
      [
        ["oidc-keycloak", "keycloak"],
        ["oidc-github", "github"],
      ],
    );
    assert.equal(config.oidcProviders[0]?.raw["client_id"], "synapse");
    assert.equal(config.raw["allow_guest_access"], true);
  });

  it("loads the SQLite homeserver-sqlite.yaml", () => {
    const config = loadSynapseConfig([path.join(FIXTURES, "homeserver-sqlite.yaml")]);
    assert.equal(config.databaseEngine, "sqlite3");
    assert.equal(config.sqlitePath, "/data/homeserver.db");
    assert.deepEqual(config.database, {});
  });
});

describe("loadSynapseConfig accepts what Synapse accepts", () => {
  it("an empty section", () => {
    const config = load(`${BASE}cas_config:\nsaml2_config:\npassword_config:\n`);
    assert.equal(config.raw["cas_config"], null);
    assert.equal(config.passwordsEnabled, true);
  });

  it("password_config.enabled: only_for_reauth", () => {
    assert.equal(load(`${BASE}password_config:\n  enabled: only_for_reauth\n`).passwordsEnabled, "only_for_reauth");
  });

  it("an OIDC provider without scopes", () => {
    const config = load(
      `${BASE}oidc_providers:\n  - idp_id: gitlab\n    issuer: https://gitlab.example.com/\n    client_id: x\n`,
    );
    assert.equal(config.oidcProviders[0]?.authProviderId, "oidc-gitlab");
    assert.equal(config.oidcProviders[0]?.raw["scopes"], undefined);
  });

  it("database.args.database instead of dbname", () => {
    const config = load(`${BASE}database:\n  name: psycopg2\n  args:\n    database: synapse_db\n    host: db\n`);
    assert.deepEqual(config.database, { host: "db", database: "synapse_db" });
  });

  it("a port written as a string", () => {
    assert.equal(load(`${BASE}database:\n  name: psycopg2\n  args: {port: "5433"}\n`).database.port, 5433);
  });

  it("unknown keys, pool sizes and unknown database arguments", () => {
    const config = load(
      `${BASE}some_future_option: {a: 1}\ndatabase:\n  name: psycopg2\n  args: {cp_min: 5, cp_max: 10, keepalives_idle: 10, user: syn}\n`,
    );
    assert.deepEqual(config.database, { user: "syn" });
    assert.deepEqual(config.raw["some_future_option"], { a: 1 });
  });

  it("every libpq keyword, and an empty password as unset", () => {
    const args =
      "{host: /run/postgresql, port: 5432, user: u, password: '', dbname: d, sslmode: verify-full, sslrootcert: /ca.pem, sslcert: /c.pem, sslkey: /k.pem, options: '-c search_path=s'}";
    assert.deepEqual(load(`${BASE}database: {name: psycopg2, args: ${args}}\n`).database, {
      host: "/run/postgresql",
      port: 5432,
      user: "u",
      database: "d",
      sslmode: "verify-full",
      sslrootcert: "/ca.pem",
      sslcert: "/c.pem",
      sslkey: "/k.pem",
      options: "-c search_path=s",
    });
  });

  it("no database section: SQLite's homeserver.db", () => {
    const config = load(BASE);
    assert.equal(config.databaseEngine, "sqlite3");
    assert.equal(config.sqlitePath, "homeserver.db");
    assert.equal(config.databaseKey, undefined, "no key to name in a hint");
  });

  it("the multi-database form, taking the main store", () => {
    const config = load(
      `${BASE}databases:\n  state_db: {name: psycopg2, data_stores: [state], args: {dbname: state}}\n  main_db: {name: psycopg2, data_stores: [main], args: {dbname: main}}\n`,
    );
    assert.equal(config.database.database, "main");
    assert.equal(config.databaseKey, "databases.main_db");
  });

  it("names the key holding the database settings", () => {
    assert.equal(load(`${BASE}database: {name: sqlite3, args: {database: /data/hs.db}}\n`).databaseKey, "database");
    assert.equal(load(`${BASE}database: {name: psycopg2, args: {dbname: s}}\n`).databaseKey, "database");
  });

  it("password defaults and top-level bcrypt_rounds", () => {
    const config = load(`${BASE}bcrypt_rounds: 10\n`);
    assert.equal(config.passwordsEnabled, true);
    assert.equal(config.localdbEnabled, true);
    assert.equal(config.pepper, undefined);
    assert.equal(config.bcryptRounds, 10);
  });

  it("an unsupported engine, left for the checks", () => {
    const config = load(`${BASE}database: {name: mysql}\n`);
    assert.equal(config.databaseEngine, "mysql");
    assert.equal(config.sqlitePath, undefined);
  });

  it("an empty file among others", () => {
    const config = loadSynapseConfig(
      writeScratchFiles("syn2mas-synapse-config-", { "a.yaml": BASE, "b.yaml": "# nothing here\n" }),
    );
    assert.equal(config.serverName, "example.org");
  });
});

describe("loadSynapseConfig with several files", () => {
  it("replaces earlier top-level keys whole", () => {
    const files = writeScratchFiles("syn2mas-synapse-config-", {
      "homeserver.yaml": `${BASE}database: {name: psycopg2, args: {host: old, port: 5433, dbname: synapse}}\npassword_config: {pepper: p1}\n`,
      "override.yaml": "database: {name: psycopg2, args: {host: new}}\n",
    });
    const config = loadSynapseConfig(files);
    assert.deepEqual(config.files, files);
    assert.deepEqual(config.database, { host: "new" });
    assert.equal(config.pepper, "p1");
  });

  it("reads a directory's *.yaml files in name order", () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "20-server.yaml"), "server_name: second.org\n");
    fs.writeFileSync(path.join(dir, "10-server.yaml"), "server_name: first.org\nenable_registration: true\n");
    fs.writeFileSync(path.join(dir, "30-ignored.yml"), "server_name: ignored.org\n");
    fs.writeFileSync(path.join(dir, "README"), "not yaml: [\n");
    fs.mkdirSync(path.join(dir, "sub.yaml"));
    const config = loadSynapseConfig([dir]);
    assert.equal(config.serverName, "second.org");
    assert.equal(config.raw["enable_registration"], true);
    assert.deepEqual(config.files, [path.join(dir, "10-server.yaml"), path.join(dir, "20-server.yaml")]);
  });
});

describe("loadSynapseConfig's OIDC providers", () => {
  it("reads the legacy oidc_config as oidc, after the list", () => {
    const config = load(`${BASE}oidc_providers: [{idp_id: a}]\noidc_config:\n  enabled: true\n  issuer: https://legacy/\n`);
    assert.deepEqual(
      config.oidcProviders.map((p) => p.authProviderId),
      ["oidc-a", "oidc"],
    );
    assert.equal(config.oidcProviders[1]?.idpId, undefined);
  });

  it("ignores a legacy oidc_config that is not enabled, as Synapse does", () => {
    assert.deepEqual(load(`${BASE}oidc_config: {enabled: false, issuer: x}\n`).oidcProviders, []);
    assert.deepEqual(load(`${BASE}oidc_config: {issuer: x}\n`).oidcProviders, []);
  });

  it("gives oidc to a provider without idp_id or with idp_id oidc", () => {
    assert.equal(load(`${BASE}oidc_providers: [{issuer: x}]\n`).oidcProviders[0]?.authProviderId, "oidc");
    assert.equal(load(`${BASE}oidc_providers: [{idp_id: oidc}]\n`).oidcProviders[0]?.authProviderId, "oidc");
  });

  it("accepts an empty oidc_providers", () => {
    assert.deepEqual(load(`${BASE}oidc_providers:\n`).oidcProviders, []);
  });
});

describe("loadSynapseConfig's errors", () => {
  it("a missing file", () => {
    assertUserError(
      () => loadSynapseConfig(["/nonexistent/homeserver.yaml"]),
      ["/nonexistent/homeserver.yaml", "does not exist"],
    );
  });

  it("an unreadable file", { skip: process.getuid?.() === 0 ? "root reads anything" : false }, () => {
    const [file] = writeScratchFiles("syn2mas-synapse-config-", { "homeserver.yaml": BASE });
    fs.chmodSync(file!, 0o000);
    assertUserError(() => loadSynapseConfig([file!]), [file!, "permission denied"]);
  });

  it("a path that cannot be read", () => {
    const [file] = writeScratchFiles("syn2mas-synapse-config-", { "homeserver.yaml": BASE });
    assertUserError(() => loadSynapseConfig([`${file!}/inside.yaml`]), [`${file!}/inside.yaml`, "cannot be read"]);
  });

  it("a directory without *.yaml files", () => {
    const dir = tempDir();
    assertUserError(() => loadSynapseConfig([dir]), [dir, "no *.yaml file"]);
  });

  it("malformed YAML, with its line and without the line's content", () => {
    const [file] = writeScratchFiles("syn2mas-synapse-config-", {
      "homeserver.yaml": `${BASE}database:\n  args:\n    password: "hunter2-secret\n`,
    });
    const err = assertUserError(() => loadSynapseConfig([file!]), [file!, "line 4"], ["hunter2-secret"]);
    assert.equal(
      err.hint,
      `correct the YAML syntax at or just before line 4 of ${file!} (an unclosed quote or bracket, a tab, a misaligned indentation), then run again`,
    );
  });

  it("a top level that is not a mapping", () => {
    const [file] = writeScratchFiles("syn2mas-synapse-config-", { "homeserver.yaml": "- server_name: x\n" });
    assertUserError(() => loadSynapseConfig([file!]), [file!, "top level", "a list"]);
  });

  it("a missing or invalid server_name", () => {
    const [file] = writeScratchFiles("syn2mas-synapse-config-", { "homeserver.yaml": "report_stats: false\n" });
    assertUserError(() => loadSynapseConfig([file!]), [file!, "server_name", "missing"]);
    assertUserError(() => load("server_name: [a]\n"), ["server_name", "must be a string"]);
  });

  it("a port of the wrong type", () => {
    const [file] = writeScratchFiles("syn2mas-synapse-config-", {
      "homeserver.yaml": `${BASE}database: {name: psycopg2, args: {port: [1], password: s3cr3t}}\n`,
    });
    assertUserError(() => loadSynapseConfig([file!]), [file!, "database.args.port", "a list"], ["s3cr3t"]);
    assertUserError(() => load(`${BASE}database: {name: psycopg2, args: {port: "x"}}\n`), ["database.args.port"]);
  });

  it("oidc_providers that is not a list", () => {
    const [file] = writeScratchFiles("syn2mas-synapse-config-", { "homeserver.yaml": `${BASE}oidc_providers: "x"\n` });
    assertUserError(() => loadSynapseConfig([file!]), [file!, "oidc_providers", "must be a list"]);
  });

  it("a provider entry that is not a mapping, or a bad idp_id", () => {
    assertUserError(() => load(`${BASE}oidc_providers: [a]\n`), ["oidc_providers[0]", "must be a mapping"]);
    assertUserError(() => load(`${BASE}oidc_providers: [{idp_id: Bad}]\n`), ["oidc_providers[0].idp_id"]);
  });

  it("two providers with the same id", () => {
    assertUserError(() => load(`${BASE}oidc_providers: [{idp_id: a}, {idp_id: a}]\n`), ["oidc-a"]);
  });

  it("password_config.enabled of the wrong kind, and a pepper that is not a string, without its value", () => {
    assertUserError(() => load(`${BASE}password_config: {enabled: sometimes}\n`), ["password_config.enabled", "only_for_reauth"]);
    assertUserError(
      () => load(`${BASE}password_config: {pepper: [pepper-secret]}\n`),
      ["password_config.pepper"],
      ["pepper-secret"],
    );
  });

  it("an invalid sslmode, a missing engine name, and both dbname and database", () => {
    assertUserError(
      () => load(`${BASE}database: {name: psycopg2, args: {sslmode: always}}\n`),
      ["database.args.sslmode", "verify-full"],
    );
    assertUserError(() => load(`${BASE}database: {args: {}}\n`), ["database.name", "missing"]);
    assertUserError(
      () => load(`${BASE}database: {name: psycopg2, args: {dbname: a, database: b}}\n`),
      ["database.args.database"],
    );
  });

  it("names the file that set the faulty key", () => {
    const [first, second] = writeScratchFiles("syn2mas-synapse-config-", {
      "a.yaml": BASE,
      "b.yaml": "database: {name: psycopg2, args: {port: true}}\n",
    });
    const err = assertUserError(() => loadSynapseConfig([first!, second!]), [second!, "database.args.port"]);
    assert.ok(!err.message.includes(first!));
  });
});
