import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FINDING_QUERIES } from "./postgres-findings-sql.ts";
import { toSqliteSql } from "./sqlite-driver.ts";

describe("the shared SQL, for SQLite", () => {
  it("numbers parameters ?n and spells strpos instr, outside literals and quoted names", () => {
    assert.equal(
      toSqliteSql(`SELECT strpos(u.name, ':') AS "strpos($1)", 'strpos($2) it''s' FROM t WHERE x = $1 AND y IN ($2, $10) AND mystrpos(a) > 0`),
      `SELECT instr(u.name, ':') AS "strpos($1)", 'strpos($2) it''s' FROM t WHERE x = ?1 AND y IN (?2, ?10) AND mystrpos(a) > 0`,
    );
  });
  it("leaves a regular expression's $ alone", () => {
    assert.equal(toSqliteSql("SELECT 'a$' ~ '^x$', STRPOS (a, b)"), "SELECT 'a$' ~ '^x$', instr(a, b)");
  });
  it("leaves no PostgreSQL-only spelling in the findings that SQLite runs", () => {
    for (const [name, q] of Object.entries(FINDING_QUERIES)) {
      if (name === "unparsableDeviceIps") continue; // counted by decodeIp on SQLite
      const sql = toSqliteSql(`SELECT count(*) FROM ${q.from} WHERE ${q.where}`);
      // String literals are data, not spelling (a bcrypt prefix such as '$2b$' is no parameter).
      const code = sql.replace(/'(?:[^']|'')*'/g, "''");
      assert.doesNotMatch(code, /::|\bstrpos\(|\bleft\(|\bbtrim\(|\bchr\(| ~\*? |!~|\$\d/, name);
    }
  });
});
