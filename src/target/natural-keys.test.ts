import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { COMPARED_TABLES, NATURAL_KEYS, comparisonSql, uncoveredColumns } from "./natural-keys.ts";
import { TABLES, TABLE_ORDER } from "./tables.ts";

describe("natural keys", () => {
  it("cover every table the tool writes, each with a key", () => {
    assert.deepEqual([...COMPARED_TABLES], [...TABLE_ORDER]);
    for (const table of TABLE_ORDER) assert.ok(NATURAL_KEYS[table].key.length > 0, table);
  });

  for (const table of TABLE_ORDER) {
    it(`${table}: every column of tables.ts is compared, part of the key, or declared an id`, () => {
      assert.deepEqual(uncoveredColumns(table), []);
    });
    it(`${table}: no id is compared or part of the key`, () => {
      const spec = NATURAL_KEYS[table];
      const used = [...spec.key, ...spec.compared].flatMap((e) => (e.column ? [e.column] : []));
      for (const id of spec.ids) {
        assert.ok(!used.includes(id), `${table}.${id}`);
        assert.ok(
          TABLES[table].some((c) => c.name === id),
          `${table}.${id} is a column`,
        );
      }
    });
  }

  const cases: { table: (typeof TABLE_ORDER)[number]; optional: string[]; has: string[]; hasNot: string[] }[] = [
    {
      table: "users",
      optional: [],
      has: ["FROM pg_temp.users t", 'FROM "public".users t', "e.k0 = a.k0 AND e.late = a.late", "'locked_at'"],
      hasNot: ["user_id IS DISTINCT"],
    },
    {
      table: "user_emails",
      optional: ["user_emails.confirmed_at"],
      has: ["LEFT JOIN pg_temp.user_map mu ON mu.expected = t.user_id", "'confirmed_at'", "e.k1 = a.k1"],
      hasNot: ['JOIN "public".users u ON'],
    },
    { table: "user_emails", optional: [], has: ["'created_at'"], hasNot: ["confirmed_at"] },
    {
      table: "compat_refresh_tokens",
      optional: [],
      has: [
        "'paired_access_token'",
        "LEFT JOIN pg_temp.access_token_map mt ON mt.expected = t.compat_access_token_id",
        "LEFT JOIN pg_temp.session_map ms ON ms.expected = t.compat_session_id",
        "xms.device_id",
      ],
      hasNot: ["refresh_token AS ref", "INSERT INTO"],
    },
  ];
  for (const c of cases) {
    it(`the SQL for ${c.table} with optional columns [${c.optional.join(", ")}]`, () => {
      const sql = comparisonSql(c.table, "public", new Set(c.optional));
      for (const part of c.has) assert.ok(sql.includes(part), `has ${part}`);
      for (const part of c.hasNot) assert.ok(!sql.includes(part), `has not ${part}`);
      assert.ok(!sql.includes("{s}"), "every schema placeholder filled");
    });
  }

  it("records the matched pairs where children compare through them", () => {
    assert.ok(comparisonSql("users", "public", new Set()).includes("INSERT INTO pg_temp.user_map (expected, mas)"));
    assert.ok(comparisonSql("compat_sessions", "public", new Set()).includes("INSERT INTO pg_temp.session_map (expected, mas)"));
    assert.ok(comparisonSql("compat_access_tokens", "public", new Set()).includes("INSERT INTO pg_temp.access_token_map"));
  });

  it("quotes the schema of MAS's tables", () => {
    assert.ok(comparisonSql("users", 'odd"name', new Set()).includes('FROM "odd""name".users t'));
  });
});
