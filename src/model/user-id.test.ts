import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkUserId, type UserIdCheck } from "./user-id.ts";

const cases: { name: string; input: { userId: string; serverName?: string }; expect: UserIdCheck }[] = [
  { name: "a local user", input: { userId: "@alice:example.com" }, expect: { kind: "local", localpart: "alice" } },
  {
    name: "the localpart is verbatim, without case folding",
    input: { userId: "@Alice.Smith=40_x:example.com" },
    expect: { kind: "local", localpart: "Alice.Smith=40_x" },
  },
  { name: "a one-character localpart", input: { userId: "@a:example.com" }, expect: { kind: "local", localpart: "a" } },
  {
    name: "another server",
    input: { userId: "@alice:other.example.org" },
    expect: { kind: "foreign", server: "other.example.org" },
  },
  {
    name: "the server name with a port is another server",
    input: { userId: "@alice:example.com:8448" },
    expect: { kind: "foreign", server: "example.com:8448" },
  },
  {
    name: "the server name differing only in case is another server",
    input: { userId: "@alice:Example.com" },
    expect: { kind: "foreign", server: "Example.com" },
  },
  {
    name: "split at the first colon: '@a:b:c' is on server 'b:c'",
    input: { userId: "@a:b:c" },
    expect: { kind: "foreign", server: "b:c" },
  },
  {
    name: "split at the first colon: '@a:b:c' is local on server 'b:c'",
    input: { userId: "@a:b:c", serverName: "b:c" },
    expect: { kind: "local", localpart: "a" },
  },
  {
    name: "a server with a port is local when it is the server name",
    input: { userId: "@alice:localhost:8008", serverName: "localhost:8008" },
    expect: { kind: "local", localpart: "alice" },
  },
  { name: "no sigil and no server: 'alice'", input: { userId: "alice" }, expect: { kind: "malformed" } },
  { name: "no sigil: 'alice:example.com'", input: { userId: "alice:example.com" }, expect: { kind: "malformed" } },
  { name: "another sigil: '#room:example.com'", input: { userId: "#room:example.com" }, expect: { kind: "malformed" } },
  { name: "an empty localpart: '@:example.com'", input: { userId: "@:example.com" }, expect: { kind: "malformed" } },
  { name: "an empty server: '@alice:'", input: { userId: "@alice:" }, expect: { kind: "malformed" } },
  { name: "no colon: '@alice'", input: { userId: "@alice" }, expect: { kind: "malformed" } },
  { name: "only the sigil: '@'", input: { userId: "@" }, expect: { kind: "malformed" } },
  { name: "the empty string", input: { userId: "" }, expect: { kind: "malformed" } },
];

describe("checkUserId", () => {
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(checkUserId(c.input.userId, c.input.serverName ?? "example.com"), c.expect));
  }
});
