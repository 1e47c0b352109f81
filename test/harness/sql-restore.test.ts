/** The driver-side restore of pg_dump files: the splitter (table-driven) and each fixture restored like psql does. */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { run } from "./exec.ts";
import { masEmptySql, masProvidersSql, synapseSchemaSql, synapseSmallSql, synapseSqlitePortedSql } from "./fixtures.ts";
import { findPgTools } from "./pg-install.ts";
import { startCluster } from "./postgres.ts";
import type { Cluster } from "./postgres.ts";
import { splitSqlScript } from "./sql-restore.ts";
import type { SqlStep } from "./sql-restore.ts";

describe("splitSqlScript", () => {
  const cases: { name: string; script: string; steps: SqlStep[] }[] = [
    {
      name: "statements with their start lines; comments before a statement dropped",
      script: "-- header\nSET a = 1;\n\n/* block\n comment */\nSELECT 2;\n",
      steps: [
        { kind: "statement", text: "SET a = 1;", line: 2 },
        { kind: "statement", text: "SELECT 2;", line: 6 },
      ],
    },
    {
      name: "psql meta-commands skipped",
      script: "\\restrict KEY\nSELECT 1;\n\\unrestrict KEY\n",
      steps: [{ kind: "statement", text: "SELECT 1;", line: 2 }],
    },
    {
      name: "semicolons inside strings, identifiers, E-strings and comments",
      script: "INSERT INTO \"a;b\" VALUES ('x;''y', E'z\\';w' /* ; */); -- ;\nSELECT 3;",
      steps: [
        { kind: "statement", text: "INSERT INTO \"a;b\" VALUES ('x;''y', E'z\\';w' /* ; */);", line: 1 },
        { kind: "statement", text: "SELECT 3;", line: 2 },
      ],
    },
    {
      name: "dollar-quoted bodies, plain and tagged, with semicolons and other quotes inside",
      script: "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$;\nDO $body$ SELECT '$$;'; $body$;\nSELECT $1;",
      steps: [
        { kind: "statement", text: "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$;", line: 1 },
        { kind: "statement", text: "DO $body$ SELECT '$$;'; $body$;", line: 2 },
        { kind: "statement", text: "SELECT $1;", line: 3 },
      ],
    },
    {
      name: "COPY data up to the \\. line, taken verbatim (backslashes, quotes, semicolons)",
      script: "COPY public.t (a, b) FROM stdin;\n1\tit's;\n2\t\\N\n\\.\n\nSELECT 4;\n",
      steps: [
        { kind: "copy", text: "COPY public.t (a, b) FROM stdin;", line: 1, data: "1\tit's;\n2\t\\N\n" },
        { kind: "statement", text: "SELECT 4;", line: 6 },
      ],
    },
    {
      name: "an empty COPY block",
      script: "COPY t (a) FROM stdin;\n\\.\nSELECT 5;",
      steps: [
        { kind: "copy", text: "COPY t (a) FROM stdin;", line: 1, data: "" },
        { kind: "statement", text: "SELECT 5;", line: 3 },
      ],
    },
    {
      name: "a last statement without semicolon",
      script: "SELECT 6;\nSELECT 7\n",
      steps: [
        { kind: "statement", text: "SELECT 6;", line: 1 },
        { kind: "statement", text: "SELECT 7", line: 2 },
      ],
    },
  ];
  for (const { name, script, steps } of cases) {
    it(name, () => {
      assert.deepEqual(splitSqlScript(script), steps);
    });
  }

  const broken: { name: string; script: string; message: RegExp }[] = [
    { name: "unclosed string", script: "SELECT 1;\nSELECT 'x;\n", message: /line 2: string literal never closed/ },
    { name: "unclosed dollar quote", script: "DO $f$ BEGIN END;", message: /line 1: dollar quote \$f\$ never closed/ },
    { name: "COPY without \\.", script: "COPY t FROM stdin;\n1\n", message: /line 1: COPY data has no terminating/ },
  ];
  for (const { name, script, message } of broken) {
    it(`rejects: ${name}`, () => {
      assert.throws(() => splitSqlScript(script), message);
    });
  }
});

describe("restoring fixtures without psql", () => {
  let cluster: Cluster;
  const psql = findPgTools().psql;

  before(async () => {
    cluster = await startCluster();
  });

  after(async () => {
    await cluster?.stop();
  });

  const fixtures: { name: string; files: string[]; table: string; rows: number }[] = [
    { name: "synapse-1.160-small.sql", files: [synapseSmallSql], table: "users", rows: 50 },
    { name: "synapse-1.160-schema.sql", files: [synapseSchemaSql], table: "users", rows: 0 },
    { name: "synapse-1.160-sqlite-small.ported.sql", files: [synapseSqlitePortedSql], table: "users", rows: -1 },
    { name: "mas-v1.0.0-empty.sql", files: [masEmptySql("1.0.0")], table: "users", rows: 0 },
    { name: "mas-v1.22.0-empty.sql", files: [masEmptySql("1.22.0")], table: "users", rows: 0 },
    {
      name: "mas-v1.22.0-empty.sql + mas-providers.sql",
      files: [masEmptySql("1.22.0"), masProvidersSql],
      table: "upstream_oauth_providers",
      rows: 2,
    },
  ];
  fixtures.forEach(({ name, files, table, rows }, index) => {
    it(`${name}: same fingerprint as psql -f`, { skip: psql === undefined ? "psql not installed" : false }, async () => {
      const viaDriver = `driver_${index}`;
      const viaPsql = `psql_${index}`;
      await cluster.createDatabase(viaDriver, { fromSqlFile: files });
      await cluster.createDatabase(viaPsql);
      for (const file of files) {
        await run(psql as string, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", viaPsql, "-f", file], { env: cluster.env() });
      }
      const count = await cluster.sql<{ n: string }>(viaDriver, `select count(*) as n from ${table}`);
      if (rows >= 0) assert.equal(Number(count[0]?.n), rows);
      else assert.ok(Number(count[0]?.n) > 0, `${table} is empty`);
      const driverPrint = await cluster.dump(viaDriver);
      assert.match(driverPrint, new RegExp(`^rows public\\.${table} count=${count[0]?.n} md5=`, "m"));
      assert.equal(driverPrint, await cluster.dump(viaPsql));
      await cluster.dropDatabase(viaDriver);
      await cluster.dropDatabase(viaPsql);
    });
  });

  it("stops at the first failing statement, naming file and line, and drops the new database", async () => {
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "syn2mas-sql-"));
    try {
      const file = join(dir, "broken.sql");
      await writeFile(file, "CREATE TABLE t (a int);\n\nINSERT INTO missing VALUES (1);\nCREATE TABLE after_error (a int);\n");
      await assert.rejects(cluster.createDatabase("broken", { fromSqlFile: file }), (error: Error) => {
        assert.match(error.message, /broken\.sql:3: relation "missing" does not exist/);
        return true;
      });
      const left = await cluster.sql("postgres", "select 1 from pg_database where datname = 'broken'");
      assert.equal(left.length, 0);
      await cluster.createDatabase("partial");
      await assert.rejects(cluster.loadSqlFiles("partial", file), /broken\.sql:3:/);
      const tables = await cluster.sql<{ relname: string }>(
        "partial",
        "select relname from pg_class where relname in ('t', 'after_error')",
      );
      assert.deepEqual(
        tables.map((t) => t.relname),
        ["t"],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
