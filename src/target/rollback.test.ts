import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { UserError } from "../errors/user-error.ts";
import { deletionOrder, referencingTables, type ForeignKey } from "./rollback.ts";

/** `table -> references`, plain (NO ACTION) unless `acts`. */
function fk(table: string, references: string, acts = false): ForeignKey {
  return { table, columns: [`${references}_id`], references, referencedColumns: ["id"], actsOnDelete: acts };
}

/** A part of MAS 1.22's foreign keys, as its catalog lists them. */
const MAS: ForeignKey[] = [
  fk("compat_access_tokens", "compat_sessions"),
  fk("compat_refresh_tokens", "compat_access_tokens"),
  fk("compat_refresh_tokens", "compat_sessions"),
  fk("compat_sessions", "users"),
  fk("compat_sessions", "user_sessions"),
  fk("compat_sso_logins", "compat_sessions", true),
  fk("compat_sso_logins", "user_sessions", true),
  fk("oauth2_sessions", "oauth2_clients"),
  fk("oauth2_sessions", "users", true),
  fk("user_passwords", "user_passwords", true),
  fk("user_passwords", "users"),
  fk("user_sessions", "users"),
  fk("user_session_authentications", "user_sessions"),
  fk("user_session_authentications", "user_passwords", true),
  fk("user_email_authentications", "user_sessions", true),
  fk("user_email_authentications", "user_registrations", true),
  fk("user_registrations", "user_email_authentications", true),
  fk("user_registrations", "user_registration_tokens", true),
  fk("queue_jobs", "queue_workers"),
];

describe("referencingTables", () => {
  const cases: { name: string; roots: string[]; keys: ForeignKey[]; expected: string[] }[] = [
    { name: "no keys", roots: ["users"], keys: [], expected: [] },
    { name: "a direct reference", roots: ["users"], keys: [fk("user_sessions", "users")], expected: ["user_sessions"] },
    {
      name: "through another table, and a cycle between two referencing tables",
      roots: ["users", "user_passwords", "compat_sessions", "compat_access_tokens", "compat_refresh_tokens"],
      keys: MAS,
      expected: [
        "compat_sso_logins",
        "oauth2_sessions",
        "user_email_authentications",
        "user_registrations",
        "user_session_authentications",
        "user_sessions",
      ],
    },
    {
      name: "tables that reference nothing deleted stay out",
      roots: ["users"],
      keys: [fk("queue_jobs", "queue_workers")],
      expected: [],
    },
    { name: "a root referencing a root is not listed", roots: ["a", "b"], keys: [fk("b", "a")], expected: [] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(referencingTables(c.roots, c.keys), c.expected));
  }
});

describe("deletionOrder", () => {
  const cases: { name: string; tables: string[]; keys: ForeignKey[]; expected: string[] }[] = [
    { name: "no keys: name order", tables: ["b", "a"], keys: [], expected: ["a", "b"] },
    {
      name: "a referencing table first",
      tables: ["users", "user_sessions"],
      keys: [fk("user_sessions", "users")],
      expected: ["user_sessions", "users"],
    },
    {
      name: "a self-reference does not block",
      tables: ["user_passwords"],
      keys: [fk("user_passwords", "user_passwords")],
      expected: ["user_passwords"],
    },
    {
      name: "a key PostgreSQL acts on does not block",
      tables: ["users", "oauth2_sessions"],
      keys: [fk("oauth2_sessions", "users", true)],
      expected: ["oauth2_sessions", "users"].sort(),
    },
    {
      name: "a cycle broken by keys PostgreSQL acts on",
      tables: ["user_registrations", "user_email_authentications"],
      keys: [
        fk("user_email_authentications", "user_registrations", true),
        fk("user_registrations", "user_email_authentications", true),
      ],
      expected: ["user_email_authentications", "user_registrations"],
    },
    {
      name: "MAS: compat sessions before the browser sessions they were opened from, users last",
      tables: [
        "users",
        "user_passwords",
        "compat_sessions",
        "compat_access_tokens",
        "compat_refresh_tokens",
        "user_sessions",
        "user_session_authentications",
      ],
      keys: MAS,
      expected: [
        "compat_refresh_tokens",
        "compat_access_tokens",
        "compat_sessions",
        "user_passwords",
        "user_session_authentications",
        "user_sessions",
        "users",
      ],
    },
    {
      name: "keys from tables not deleted are ignored",
      tables: ["users"],
      keys: [fk("user_sessions", "users")],
      expected: ["users"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(deletionOrder(c.tables, c.keys), c.expected));
  }

  it("a cycle of plain keys has no order: a UserError naming the tables", () => {
    assert.throws(
      () => deletionOrder(["a", "b", "c"], [fk("a", "b"), fk("b", "a")]),
      (error: unknown) => error instanceof UserError && /between a, b that leaves no order/.test(error.message),
    );
  });
});
