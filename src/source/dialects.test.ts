import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { findingQueries } from "./findings-sql.ts";
import { POSTGRES_DIALECT } from "./postgres/dialect.ts";
import { SQLITE_DIALECT } from "./sqlite/snapshot.ts";

describe("each engine spells the shared SQL its own way", () => {
  const cases = [
    { dialect: POSTGRES_DIALECT, params: ["$1", "$2", "$10"], strpos: "strpos(u.name, ':')" },
    { dialect: SQLITE_DIALECT, params: ["?1", "?2", "?10"], strpos: "instr(u.name, ':')" },
  ];
  for (const { dialect, params, strpos } of cases) {
    it(`${dialect.engine}: parameters ${params.join(", ")}, ${strpos}`, () => {
      assert.deepEqual(
        [1, 2, 10].map((n) => dialect.param(n)),
        params,
      );
      assert.equal(dialect.strpos("u.name", "':'"), strpos);
    });
  }

  it("PostgreSQL: every finding in SQL, with PostgreSQL's parameters only", () => {
    for (const [name, q] of Object.entries(findingQueries(POSTGRES_DIALECT))) {
      assert.equal(q.judgedByEngine, undefined, name);
      assert.doesNotMatch(`${q.from} ${q.where} ${q.candidate?.where ?? ""}`, /\?\d|\binstr\(/, name);
    }
    assert.match(findingQueries(POSTGRES_DIALECT).unparsableDeviceIps.where, / ~\* /);
  });

  it("SQLite: the device IPs are the engine's to judge, everything else in SQL with ?n parameters", () => {
    const queries = findingQueries(SQLITE_DIALECT);
    assert.deepEqual(
      Object.entries(queries)
        .filter(([, q]) => q.judgedByEngine)
        .map(([name]) => name),
      ["unparsableDeviceIps"],
    );
    assert.match(queries.guestUsers.where, /instr\(u\.name, ':'\) > 2 AND substr\(u\.name, instr\(u\.name, ':'\) \+ 1\) = \?1/);
    assert.match(queries.endedSessions.where, /< \?2/);
  });
});
