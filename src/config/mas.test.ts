/** Tests for loadMasConfig: the real fixture, MAS's multi-file merge, database forms, secrets and errors. */
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadMasConfig } from "./mas.ts";
import { writeScratchFiles } from "../../test/harness/scratch.ts";
import { assertUserError } from "../../test/harness/user-error.ts";

const FIXTURE = fileURLToPath(new URL("../../test/fixtures/mas/mas-config.yaml", import.meta.url));

function load(yaml: string) {
  return loadMasConfig(writeScratchFiles("syn2mas-mas-config-", { "config.yaml": yaml }));
}

/** Runs `fn` with MAS_CONFIG set to `value` (or unset), restoring it afterwards. */
function withMasConfigEnv<T>(value: string | undefined, fn: () => T): T {
  const saved = process.env["MAS_CONFIG"];
  if (value === undefined) delete process.env["MAS_CONFIG"];
  else process.env["MAS_CONFIG"] = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env["MAS_CONFIG"];
    else process.env["MAS_CONFIG"] = saved;
  }
}

describe("loadMasConfig with the fixture", () => {
  it("loads mas-config.yaml", () => {
    const config = loadMasConfig([FIXTURE]);
    assert.deepEqual(config.files, [FIXTURE]);
    assert.equal(config.homeserver, "example.com");
    assert.equal(config.endpoint, "http://127.0.0.1:8008/");
    assert.deepEqual(config.database, { host: "127.0.0.1", port: 5432, user: "postgres", database: "mas" });
    assert.equal(config.passwordsEnabled, true);
    assert.deepEqual(config.passwordSchemes, [
      { version: 1, algorithm: "bcrypt", secret: "peppery-pepper-123", unicodeNormalization: true },
      { version: 2, algorithm: "argon2id", unicodeNormalization: false },
    ]);
    assert.deepEqual(
      config.upstreamProviders.map((p) => [p.id, p.synapseIdpId, p.humanName]),
      [
        ["01JSHPZHAXC50QBKH67MH33TNF", "oidc-keycloak", "Keycloak"],
        ["01JSHQ3M8W5V0X7T2NPRB6KD4C", "oidc-github", "GitHub"],
      ],
    );
    assert.equal(config.upstreamProviders[0]?.issuer, "https://id.example.com/realms/matrix");
  });
});

describe("loadMasConfig's merge of several files", () => {
  it("deep-merges mappings, appends lists and lets later scalars win", () => {
    const files = writeScratchFiles("syn2mas-mas-config-", {
      "a.yaml":
        "matrix: {homeserver: a.org, endpoint: http://a/}\npasswords:\n  schemes: [{version: 1, algorithm: bcrypt}]\nupstream_oauth2:\n  providers: [{id: 01JSHPZHAXC50QBKH67MH33TNF, synapse_idp_id: oidc-a}]\n",
      "b.yaml":
        "matrix: {endpoint: http://b/}\npasswords:\n  enabled: true\n  schemes: [{version: 2, algorithm: argon2id}]\nupstream_oauth2:\n  providers: [{id: 01JSHQ3M8W5V0X7T2NPRB6KD4C}]\n",
    });
    const config = loadMasConfig(files);
    assert.equal(config.homeserver, "a.org");
    assert.equal(config.endpoint, "http://b/");
    assert.deepEqual(
      config.passwordSchemes.map((s) => s.version),
      [1, 2],
    );
    assert.deepEqual(
      config.upstreamProviders.map((p) => [p.id, p.synapseIdpId]),
      [
        ["01JSHPZHAXC50QBKH67MH33TNF", "oidc-a"],
        ["01JSHQ3M8W5V0X7T2NPRB6KD4C", undefined],
      ],
    );
  });

  it("reads MAS_CONFIG when no path is given", () => {
    const [a, b] = writeScratchFiles("syn2mas-mas-config-", {
      "a.yaml": "matrix: {homeserver: a.org}\n",
      "b.yaml": "matrix: {homeserver: b.org}\n",
    });
    const config = withMasConfigEnv(`${a!}:${b!}`, () => loadMasConfig([]));
    assert.equal(config.homeserver, "b.org");
    assert.deepEqual(config.files, [a, b]);
  });

  it("asks for --config when neither paths nor MAS_CONFIG are given", () => {
    for (const value of [undefined, ""]) {
      const err = assertUserError(() => withMasConfigEnv(value, () => loadMasConfig([])), ["MAS configuration"]);
      assert.match(err.hint, /--config/);
    }
  });

  it("names the file that set a faulty key", () => {
    const [a, b] = writeScratchFiles("syn2mas-mas-config-", {
      "a.yaml": "passwords:\n  schemes: [{version: 1, algorithm: bcrypt}]\n",
      "b.yaml": "passwords:\n  schemes: [{version: 2, algorithm: md5}]\n",
    });
    const err = assertUserError(() => loadMasConfig([a!, b!]), [b!, "passwords.schemes[1].algorithm"]);
    assert.ok(!err.message.includes(a!));
  });
});

describe("loadMasConfig's database section", () => {
  it("parses a URI with sslmode and a socket host", () => {
    const config = load("database:\n  uri: postgresql://mas:pw@/mas?host=/run/postgresql&sslmode=require\n");
    assert.deepEqual(config.database, {
      host: "/run/postgresql",
      user: "mas",
      password: "pw",
      database: "mas",
      sslmode: "require",
    });
  });

  it("reads the separate fields", () => {
    const config = load(
      "database:\n  host: db.example\n  port: 6432\n  username: mas\n  password: pw\n  database: masdb\n  ssl_mode: verify-ca\n  ssl_ca_file: /ca.pem\n  ssl_certificate_file: /c.pem\n  ssl_key_file: /k.pem\n",
    );
    assert.deepEqual(config.database, {
      host: "db.example",
      port: 6432,
      user: "mas",
      password: "pw",
      database: "masdb",
      sslmode: "verify-ca",
      sslrootcert: "/ca.pem",
      sslcert: "/c.pem",
      sslkey: "/k.pem",
    });
  });

  it("maps socket to the host directory, and a socket file's name to the port", () => {
    assert.deepEqual(load("database: {socket: /run/postgresql, host: ignored}\n").database, { host: "/run/postgresql" });
    assert.deepEqual(load("database: {socket: /run/postgresql/.s.PGSQL.5433}\n").database, {
      host: "/run/postgresql",
      port: 5433,
    });
  });

  it("reads password_file without its trailing newline", () => {
    const [pwFile] = writeScratchFiles("syn2mas-mas-config-", { pw: "db-password\n" });
    assert.equal(load(`database: {password_file: ${pwFile!}}\n`).database.password, "db-password");
  });

  it("leaves everything unset without a database section, as MAS's default postgresql://", () => {
    assert.deepEqual(load("matrix: {homeserver: x}\n").database, {});
  });

  it("refuses a URI together with separate fields, and a bad ssl_mode", () => {
    assertUserError(
      () => load("database: {uri: 'postgresql://u:pw-secret@h/d', host: h}\n"),
      ["database.uri", "database.host"],
      ["pw-secret"],
    );
    assertUserError(() => load("database: {ssl_mode: sometimes}\n"), ["database.ssl_mode", "verify-full"]);
  });

  it("refuses a URI that is not PostgreSQL, naming file and key but not the URI", () => {
    const [file] = writeScratchFiles("syn2mas-mas-config-", { "config.yaml": "database: {uri: 'mysql://u:pw-secret@h/d'}\n" });
    assertUserError(() => loadMasConfig([file!]), [file!, "database.uri", "postgresql://"], ["pw-secret"]);
  });
});

describe("loadMasConfig's passwords", () => {
  it("uses MAS's defaults without a passwords section", () => {
    const config = load("matrix: {homeserver: x}\n");
    assert.equal(config.passwordsEnabled, true);
    assert.deepEqual(config.passwordSchemes, [{ version: 1, algorithm: "argon2id", unicodeNormalization: false }]);
  });

  it("reads a secret_file byte for byte, as MAS does", () => {
    const [secretFile] = writeScratchFiles("syn2mas-mas-config-", { pepper: "file-pepper\n" });
    const config = load(
      `passwords:\n  enabled: false\n  schemes:\n    - {version: 1, algorithm: bcrypt, cost: 10, secret_file: ${secretFile!}}\n`,
    );
    assert.equal(config.passwordsEnabled, false);
    assert.deepEqual(config.passwordSchemes, [
      { version: 1, algorithm: "bcrypt", cost: 10, secret: "file-pepper\n", secretFile, unicodeNormalization: false },
    ]);
  });

  it("reports a missing secret_file by key and path", () => {
    const [file] = writeScratchFiles("syn2mas-mas-config-", {
      "config.yaml": "passwords:\n  schemes: [{version: 1, algorithm: bcrypt, secret_file: /nonexistent/pepper}]\n",
    });
    assertUserError(
      () => loadMasConfig([file!]),
      [file!, "passwords.schemes[0].secret_file", "/nonexistent/pepper", "does not exist"],
    );
  });

  it("refuses secret with secret_file, repeated versions and a missing version, without the secret", () => {
    assertUserError(
      () => load("passwords:\n  schemes: [{version: 1, algorithm: bcrypt, secret: s3cret-pepper, secret_file: /x}]\n"),
      ["passwords.schemes[0].secret_file"],
      ["s3cret-pepper"],
    );
    assertUserError(
      () =>
        load(
          "passwords:\n  schemes: [{version: 1, algorithm: bcrypt, secret: s3cret-pepper}, {version: 1, algorithm: argon2id}]\n",
        ),
      ["passwords.schemes[1].version"],
      ["s3cret-pepper"],
    );
    assertUserError(() => load("passwords:\n  schemes: [{algorithm: bcrypt}]\n"), ["passwords.schemes[0].version", "missing"]);
  });

  it("refuses schemes that are not a list and a secret that is not a string", () => {
    assertUserError(() => load("passwords: {schemes: x}\n"), ["passwords.schemes", "must be a list"]);
    assertUserError(
      () => load("passwords:\n  schemes: [{version: 1, algorithm: bcrypt, secret: [pepper-secret]}]\n"),
      ["passwords.schemes[0].secret"],
      ["pepper-secret"],
    );
  });
});

describe("loadMasConfig's other errors", () => {
  it("a missing file", () => {
    assertUserError(() => loadMasConfig(["/nonexistent/mas.yaml"]), ["/nonexistent/mas.yaml", "does not exist"]);
  });

  it("malformed YAML, with its line and without its content", () => {
    const [file] = writeScratchFiles("syn2mas-mas-config-", { "config.yaml": "matrix:\n  secret: 'matrix-secret-value\n" });
    assertUserError(() => loadMasConfig([file!]), [file!, "line 2"], ["matrix-secret-value"]);
  });

  it("a top level that is not a mapping", () => {
    const [file] = writeScratchFiles("syn2mas-mas-config-", { "config.yaml": "just a string\n" });
    assertUserError(() => loadMasConfig([file!]), [file!, "top level"]);
  });

  it("a provider without id, and providers that are not a list", () => {
    assertUserError(
      () => load("upstream_oauth2:\n  providers: [{synapse_idp_id: oidc-a}]\n"),
      ["upstream_oauth2.providers[0].id", "missing"],
    );
    assertUserError(() => load("upstream_oauth2: {providers: {id: x}}\n"), ["upstream_oauth2.providers", "must be a list"]);
  });

  it("malformed YAML: the hint names the file and the line to correct, not where to pass the file", () => {
    const [file] = writeScratchFiles("syn2mas-mas-config-", {
      "config.yaml": "matrix:\n  homeserver: example.com\n  secret: [unclosed-secret\nsecrets: {\n",
    });
    const err = assertUserError(() => loadMasConfig([file!]), [file!, "invalid YAML at line"], ["unclosed-secret"]);
    const line = /line (\d+)/.exec(err.message)?.[1];
    assert.ok(line !== undefined);
    assert.match(
      err.hint,
      new RegExp(`^correct the YAML syntax at or just before line ${line} of ${file!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
    );
    assert.doesNotMatch(err.hint, /--config/);
  });
});

describe("loadMasConfig's provider ids", () => {
  const providers = (items: string) => `upstream_oauth2:\n  providers:\n${items}`;
  const cases: { name: string; yaml: string; parts: string[] }[] = [
    {
      name: "digits without quotes, which YAML reads as the number 4",
      yaml: providers("    - id: 00000000000000000000000004\n      synapse_idp_id: oidc-keycloak\n"),
      parts: ["upstream_oauth2.providers[0].id", "synapse_idp_id oidc-keycloak", "the number 4", "not a ULID"],
    },
    {
      name: "a string that is not a ULID, on a provider without synapse_idp_id",
      yaml: providers("    - id: 01JSHPZHAXC50QBKH67MH33TNF\n      synapse_idp_id: oidc-a\n    - id: keycloak-provider\n"),
      parts: ["upstream_oauth2.providers[1].id", '"keycloak-provider"', "not a ULID"],
    },
    {
      name: "a ULID one character short",
      yaml: providers("    - id: 01JSHPZHAXC50QBKH67MH33TN\n      synapse_idp_id: oidc-github\n"),
      parts: ["providers[0].id", "synapse_idp_id oidc-github", '"01JSHPZHAXC50QBKH67MH33TN"'],
    },
    {
      name: "a ULID with a letter Crockford base32 leaves out (U)",
      yaml: providers("    - id: 01JSHPZHAXC50QBKH67MH33TNU\n"),
      parts: ["providers[0].id", "not a ULID"],
    },
    {
      name: "a ULID beyond 128 bits (first character 8)",
      yaml: providers("    - id: 81JSHPZHAXC50QBKH67MH33TNF\n"),
      parts: ["providers[0].id", "not a ULID"],
    },
    {
      name: "a list",
      yaml: providers("    - id: [01JSHPZHAXC50QBKH67MH33TNF]\n"),
      parts: ["providers[0].id", "must be a ULID, not a list"],
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}, naming the provider and the id`, () => {
      const err = assertUserError(() => load(c.yaml), c.parts);
      assert.match(err.hint, /^quote the id and make it the provider's 26-character ULID/);
    });
  }

  it("accepts a quoted ULID, and one in lower case (MAS reads ULIDs case-insensitively)", () => {
    const config = load(providers('    - id: "01JSHPZHAXC50QBKH67MH33TNF"\n    - id: 01jshq3m8w5v0x7t2nprb6kd4c\n'));
    assert.deepEqual(
      config.upstreamProviders.map((p) => p.id),
      ["01JSHPZHAXC50QBKH67MH33TNF", "01jshq3m8w5v0x7t2nprb6kd4c"],
    );
  });
});
