import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connectFailure, connectionLoss, isLockTimeout, type ConnectionLoss, type DatabaseRole } from "./database-errors.ts";

/** A driver error as node-postgres makes them: a message, and a SQLSTATE or errno code. */
function driverError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

describe("connectFailure", () => {
  const cases: { name: string; error: Error; role?: DatabaseRole; passwordGiven?: boolean; reason: string; fix?: RegExp }[] = [
    {
      name: "refused",
      error: driverError("connect ECONNREFUSED 127.0.0.1:1", "ECONNREFUSED"),
      reason: "connection refused (is PostgreSQL running there?)",
    },
    { name: "unknown host", error: driverError("getaddrinfo ENOTFOUND db", "ENOTFOUND"), reason: "host name not found" },
    {
      name: "wrong password",
      error: driverError('password authentication failed for user "u"', "28P01"),
      reason: "password authentication failed",
    },
    { name: "unknown role", error: driverError('role "x" does not exist', "28000"), reason: "the role (user) does not exist" },
    {
      name: "pg_hba rejection",
      error: driverError("no pg_hba.conf entry for host", "28000"),
      reason: "the server refused this user (pg_hba.conf)",
    },
    {
      name: "missing MAS database",
      error: driverError('database "mas" does not exist', "3D000"),
      role: "MAS",
      reason: "the database does not exist",
      fix: /^create it .*`mas-cli database migrate` and `mas-cli config sync`/,
    },
    {
      name: "missing Synapse database",
      error: driverError('database "s" does not exist', "3D000"),
      role: "Synapse",
      reason: "the database does not exist",
    },
    {
      name: "no password for SCRAM",
      error: driverError("SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string"),
      passwordGiven: false,
      reason: "the server asks for a password and none is given",
      fix: /^set the password/,
    },
    {
      name: "a password given, then some other driver failure: no claim about the password",
      error: driverError("SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature is missing"),
      passwordGiven: true,
      reason: "the connection failed",
    },
    {
      name: "server starting",
      error: driverError("the database system is starting up", "57P03"),
      reason: "the server is starting up or shutting down",
    },
    {
      name: "no TLS on the server",
      error: driverError("The server does not support SSL connections"),
      reason: "the server does not accept TLS, which sslmode requires",
    },
    {
      name: "untrusted certificate",
      error: driverError("self-signed certificate in certificate chain"),
      reason: "the server's TLS certificate could not be verified",
    },
    {
      name: "connect timeout",
      error: driverError("Connection terminated due to connection timeout"),
      reason: "connection timed out",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const failure = connectFailure(c.error, c.role ?? "MAS", c.passwordGiven ?? true);
      assert.equal(failure.reason, c.reason);
      if (c.fix === undefined) assert.equal(failure.fix, undefined);
      else assert.match(failure.fix ?? "", c.fix);
      assert.ok(!failure.reason.includes(c.error.message), "the driver's message is not passed on");
    });
  }
});

describe("connectionLoss", () => {
  const cases: [string, unknown, ConnectionLoss | undefined][] = [
    [
      "pg_terminate_backend or fast shutdown",
      driverError("terminating connection due to administrator command", "57P01"),
      "terminated",
    ],
    [
      "crash of another backend",
      driverError("terminating connection because of crash of another server process", "57P02"),
      "crashed",
    ],
    ["shutting down", driverError("the database system is shutting down", "57P03"), "unavailable"],
    ["protocol-level connection failure", driverError("connection failure", "08006"), "broken"],
    ["socket reset", driverError("read ECONNRESET", "ECONNRESET"), "broken"],
    ["socket closed without a message", driverError("Connection terminated unexpectedly"), "broken"],
    ["a query after the loss", driverError("Client has encountered a connection error and is not queryable"), "broken"],
    ["lock timeout is no loss", driverError("canceling statement due to lock timeout", "55P03"), undefined],
    ["a unique violation is no loss", driverError("duplicate key value violates unique constraint", "23505"), undefined],
    ["a plain bug is no loss", new TypeError("x is undefined"), undefined],
    ["not an error at all", "text", undefined],
  ];
  for (const [name, error, expected] of cases) {
    it(name, () => assert.equal(connectionLoss(error), expected));
  }
});

describe("isLockTimeout", () => {
  it("is 55P03 only", () => {
    assert.equal(isLockTimeout(driverError("canceling statement due to lock timeout", "55P03")), true);
    assert.equal(isLockTimeout(driverError("canceling statement due to statement timeout", "57014")), false);
    assert.equal(isLockTimeout(undefined), false);
  });
});
