import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { masEmptySql, type MasVersion } from "../../test/harness/fixtures.ts";
import {
  MAS_MIGRATIONS,
  MAS_RELEASES,
  NEWEST_KNOWN_MAS_MIGRATION,
  readMigrationHistory,
  type RecordedMigration,
} from "./mas-migrations.ts";

/** `version description` of each `_sqlx_migrations` row in a MAS fixture dump, in the dump's order. */
function dumpedMigrations(release: MasVersion): string[] {
  const dump = readFileSync(masEmptySql(release), "utf8");
  const copy = /^COPY public\._sqlx_migrations \(version, description, [^)]*\) FROM stdin;\n([\s\S]*?)^\\\.$/m.exec(dump);
  assert.ok(copy, `no _sqlx_migrations data in the MAS ${release} dump`);
  return (copy[1] as string)
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t").slice(0, 2).join(" "));
}

const known = (m: { version: bigint; description: string }) => `${m.version} ${m.description}`;
const versionsOf = (release: string): bigint[] =>
  MAS_MIGRATIONS.filter((m) => MAS_RELEASES.indexOf(m.since) <= MAS_RELEASES.indexOf(release as never)).map((m) => m.version);
const succeeded = (versions: bigint[]): RecordedMigration[] => versions.map((version) => ({ version, success: true }));
const version = (description: string): bigint =>
  (MAS_MIGRATIONS.find((m) => m.description === description) as { version: bigint }).version;

describe("MAS_MIGRATIONS", () => {
  it("is the history of the MAS 1.22.0 fixture, row for row", () => {
    assert.deepEqual(MAS_MIGRATIONS.map(known), dumpedMigrations("1.22.0"));
    assert.equal(MAS_MIGRATIONS.length, 167);
    assert.equal(NEWEST_KNOWN_MAS_MIGRATION, 20260720134722n);
  });

  it("marks exactly the history of the MAS 1.0.0 fixture as 1.0.0's", () => {
    assert.deepEqual(MAS_MIGRATIONS.filter((m) => m.since === "1.0.0").map(known), dumpedMigrations("1.0.0"));
  });

  it("is in version order, without duplicates", () => {
    const versions = MAS_MIGRATIONS.map((m) => m.version);
    assert.deepEqual(
      versions,
      [...new Set(versions)].sort((a, b) => (a < b ? -1 : 1)),
    );
  });
});

describe("readMigrationHistory", () => {
  const all = versionsOf("1.22.0");
  const cases: {
    name: string;
    recorded: RecordedMigration[];
    release: string;
    missing: bigint[];
    failed?: bigint[];
    unknown?: bigint[];
  }[] = [
    { name: "MAS 1.22.0, complete", recorded: succeeded(all), release: "1.22.0", missing: [] },
    { name: "MAS 1.0.0, complete", recorded: succeeded(versionsOf("1.0.0")), release: "1.0.0", missing: [] },
    {
      // 1.10.0 lacks three migrations dated before its newest one, which 1.11.0 added: still complete.
      name: "MAS 1.10.0, complete though 1.11.0 added older-dated migrations",
      recorded: succeeded(versionsOf("1.10.0")),
      release: "1.10.0",
      missing: [],
    },
    { name: "the newest row deleted", recorded: succeeded(all.slice(0, -1)), release: "1.22.0", missing: [20260720134722n] },
    {
      name: "1.0.0's newest row deleted",
      recorded: succeeded(versionsOf("1.0.0").slice(0, -1)),
      release: "1.0.0",
      missing: [version("backfill id token claims")],
    },
    {
      name: "a middle row deleted",
      recorded: succeeded(all.filter((v) => v !== version("upstream oauth"))),
      release: "1.22.0",
      missing: [version("upstream oauth")],
    },
    { name: "every row deleted", recorded: [], release: "1.0.0", missing: versionsOf("1.0.0") },
    {
      name: "a row recorded as failed",
      recorded: all.map((v) => ({ version: v, success: v !== version("init") })),
      release: "1.22.0",
      missing: [version("init")],
      failed: [version("init")],
    },
    {
      name: "1.11.0's migration dated 20260108144040 deleted from 1.11.0's history",
      recorded: succeeded(versionsOf("1.11.0").filter((v) => v !== 20260108144040n)),
      release: "1.11.0",
      missing: [20260108144040n],
    },
    {
      name: "a newer MAS: every known migration and one more",
      recorded: succeeded([...all, NEWEST_KNOWN_MAS_MIGRATION + 1n]),
      release: "1.22.0",
      missing: [],
      unknown: [NEWEST_KNOWN_MAS_MIGRATION + 1n],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const history = readMigrationHistory(c.recorded);
      assert.equal(history.release, c.release);
      assert.deepEqual(
        history.missing.map((m) => m.version),
        c.missing,
      );
      assert.deepEqual(history.failed, c.failed ?? []);
      assert.deepEqual(history.unknown, c.unknown ?? []);
      assert.equal(history.expected, versionsOf(c.release).length);
    });
  }
});
