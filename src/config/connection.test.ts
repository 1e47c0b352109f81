/** Tests for the connection helpers: node-postgres options, printable descriptions and URI parsing. */
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ConnectionOptions } from "node:tls";
import { describeConnection, parsePostgresUri, toPgClientConfig } from "./connection.ts";
import { scratchDir } from "../../test/harness/scratch.ts";
import { assertUserError } from "../../test/harness/user-error.ts";

const PG_ENV = ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "USER"];

/** Runs `fn` with the PG* variables (and USER) replaced by `vars`, restoring them afterwards. */
function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = new Map(PG_ENV.map((name) => [name, process.env[name]]));
  for (const name of PG_ENV) delete process.env[name];
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

function pemFiles(): { ca: string; cert: string; key: string } {
  const dir = scratchDir("syn2mas-connection-");
  const write = (name: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `-----BEGIN ${name}-----\n`);
    return file;
  };
  return { ca: write("ca.pem"), cert: write("cert.pem"), key: write("key.pem") };
}

function tls(value: unknown): ConnectionOptions {
  assert.equal(typeof value, "object");
  return value as ConnectionOptions;
}

describe("toPgClientConfig", () => {
  it("passes the settings through and leaves unset ones for PG* variables", () => {
    const config = withEnv({}, () =>
      toPgClientConfig(
        { host: "db", port: 5433, user: "u", password: "pw", database: "d", options: "-c search_path=s" },
        "syn2mas",
      ),
    );
    assert.deepEqual(config, {
      application_name: "syn2mas",
      host: "db",
      port: 5433,
      user: "u",
      password: "pw",
      database: "d",
      options: "-c search_path=s",
      ssl: false,
    });
    const empty = withEnv({}, () => toPgClientConfig({}, "syn2mas"));
    assert.deepEqual(Object.keys(empty).sort(), ["application_name", "ssl"]);
  });

  it("connects without TLS for disable, allow and prefer", () => {
    for (const sslmode of ["disable", "allow", "prefer"] as const) {
      assert.equal(withEnv({}, () => toPgClientConfig({ sslmode }, "t")).ssl, false);
    }
  });

  it("does not verify the server for require without a root certificate", () => {
    assert.deepEqual(withEnv({}, () => toPgClientConfig({ sslmode: "require" }, "t")).ssl, { rejectUnauthorized: false });
  });

  it("verifies the CA but not the name for verify-ca, and for require with a root certificate", () => {
    const files = pemFiles();
    for (const sslmode of ["verify-ca", "require"] as const) {
      const ssl = tls(withEnv({}, () => toPgClientConfig({ sslmode, sslrootcert: files.ca }, "t")).ssl);
      assert.equal(ssl.rejectUnauthorized, true);
      assert.equal(ssl.ca, "-----BEGIN ca.pem-----\n");
      assert.equal(ssl.checkServerIdentity?.("db", {} as never), undefined);
    }
  });

  it("verifies CA and name for verify-full, with client certificate and key", () => {
    const files = pemFiles();
    const ssl = tls(
      withEnv({}, () =>
        toPgClientConfig({ sslmode: "verify-full", sslrootcert: files.ca, sslcert: files.cert, sslkey: files.key }, "t"),
      ).ssl,
    );
    assert.equal(ssl.rejectUnauthorized, true);
    assert.equal(ssl.checkServerIdentity, undefined);
    assert.equal(ssl.ca, "-----BEGIN ca.pem-----\n");
    assert.equal(ssl.cert, "-----BEGIN cert.pem-----\n");
    assert.equal(ssl.key, "-----BEGIN key.pem-----\n");
  });

  it("uses the system CAs for sslrootcert=system", () => {
    const ssl = tls(withEnv({}, () => toPgClientConfig({ sslmode: "verify-full", sslrootcert: "system" }, "t")).ssl);
    assert.equal(ssl.ca, undefined);
  });

  it("falls back to PGSSLMODE and PGSSLROOTCERT", () => {
    const files = pemFiles();
    const ssl = tls(withEnv({ PGSSLMODE: "verify-ca", PGSSLROOTCERT: files.ca }, () => toPgClientConfig({}, "t")).ssl);
    assert.equal(ssl.ca, "-----BEGIN ca.pem-----\n");
    assertUserError(() => withEnv({ PGSSLMODE: "bogus" }, () => toPgClientConfig({}, "t")), ["PGSSLMODE"]);
  });

  it("reports a missing certificate file by its setting", () => {
    assertUserError(
      () => withEnv({}, () => toPgClientConfig({ sslmode: "verify-full", sslrootcert: "/nonexistent/ca.pem" }, "t")),
      ["sslrootcert", "/nonexistent/ca.pem"],
    );
    assertUserError(
      () => withEnv({}, () => toPgClientConfig({ sslmode: "require", sslkey: "/nonexistent/key.pem" }, "t")),
      ["sslkey"],
    );
  });
});

describe("describeConnection", () => {
  it("shows user, host, port and database, never the password", () => {
    const text = withEnv({}, () =>
      describeConnection({ host: "127.0.0.1", port: 5432, user: "postgres", password: "pw-secret", database: "synapse" }),
    );
    assert.equal(text, "postgres@127.0.0.1:5432/synapse");
  });

  it("fills unset values from PG* variables", () => {
    const vars = { PGHOST: "envhost", PGPORT: "6543", PGUSER: "envuser", PGDATABASE: "envdb" };
    assert.equal(
      withEnv(vars, () => describeConnection({})),
      "envuser@envhost:6543/envdb",
    );
  });

  it("falls back to libpq's defaults: localhost, 5432, the OS user, a database named after the user", () => {
    assert.equal(
      withEnv({ USER: "alice" }, () => describeConnection({})),
      "alice@localhost:5432/alice",
    );
  });

  it("brackets IPv6 addresses and shows socket directories as they are", () => {
    assert.equal(
      withEnv({}, () => describeConnection({ host: "::1", user: "u", database: "d" })),
      "u@[::1]:5432/d",
    );
    assert.equal(
      withEnv({}, () => describeConnection({ host: "/run/postgresql", user: "u", database: "d" })),
      "u@/run/postgresql:5432/d",
    );
  });
});

describe("parsePostgresUri", () => {
  it("parses user, password, host, port and database", () => {
    assert.deepEqual(parsePostgresUri("postgresql://synapse:pw@db.example:5433/synapse"), {
      host: "db.example",
      port: 5433,
      user: "synapse",
      password: "pw",
      database: "synapse",
    });
    assert.deepEqual(parsePostgresUri("postgres://u@[::1]/d"), { host: "::1", user: "u", database: "d" });
  });

  it("takes a socket directory from ?host= or a percent-encoded host", () => {
    assert.deepEqual(parsePostgresUri("postgresql:///synapse?host=/run/postgresql"), {
      host: "/run/postgresql",
      database: "synapse",
    });
    assert.deepEqual(parsePostgresUri("postgresql://u@%2Frun%2Fpostgresql/d"), {
      host: "/run/postgresql",
      user: "u",
      database: "d",
    });
  });

  it("keeps TLS settings as file paths without reading them, plus options and dbname", () => {
    const uri =
      "postgresql://h/ignored?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem&sslcert=/c&sslkey=/k&options=-c%20search_path%3Ds&dbname=real";
    assert.deepEqual(parsePostgresUri(uri), {
      host: "h",
      database: "real",
      options: "-c search_path=s",
      sslmode: "verify-full",
      sslrootcert: "/nonexistent/ca.pem",
      sslcert: "/c",
      sslkey: "/k",
    });
  });

  it("gives nothing for a bare postgresql://, so PG* variables apply", () => {
    assert.deepEqual(parsePostgresUri("postgresql://"), {});
  });

  it("refuses other schemes, bad ports and sslmodes, without showing the URI", () => {
    assertUserError(
      () => parsePostgresUri("mysql://u:pw-secret@h/d"),
      ["--synapse-database-uri", "mysql:", "postgresql://"],
      ["pw-secret"],
    );
    assertUserError(() => parsePostgresUri("u:pw-secret@h/d"), ["--synapse-database-uri"], ["pw-secret"]);
    assertUserError(() => parsePostgresUri("postgresql://u:pw-secret@h:99999/d"), ["--synapse-database-uri"], ["pw-secret"]);
    assertUserError(() => parsePostgresUri("postgresql://u:pw-secret@h/d?sslmode=always"), ["sslmode"], ["pw-secret"]);
    assertUserError(() => parsePostgresUri("mysql://h/d", "mas.yaml: database.uri"), ["mas.yaml: database.uri"]);
  });
});
