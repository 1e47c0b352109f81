/** Tests for loadSetup's hint about where Synapse's database settings come from. */
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { scratchDir } from "../../test/harness/scratch.ts";
import { loadSetup } from "./load.ts";

function setupFor(homeserverYaml: string) {
  const dir = scratchDir("syn2mas-load-");
  const synapse = path.join(dir, "homeserver.yaml");
  const mas = path.join(dir, "mas.yaml");
  fs.writeFileSync(synapse, `server_name: example.com\n${homeserverYaml}`);
  fs.writeFileSync(mas, "matrix: {homeserver: example.com}\ndatabase: {uri: 'postgresql://mas@127.0.0.1/mas'}\n");
  return {
    synapse,
    setup: loadSetup({ config: [mas], synapseConfig: [synapse], upstreamProviderMapping: [], synapseConnections: "3" }),
  };
}

describe("the Synapse database's settings source", () => {
  it("without a database section: says so and names no key the file lacks", () => {
    const { synapse, setup } = setupFor("");
    assert.equal(setup.synapse.sqlitePath, "homeserver.db");
    const source = setup.synapseTarget.settingsSource;
    assert.doesNotMatch(source, /database\.args/);
    assert.ok(source.includes(`${synapse} has no database section`), source);
    assert.ok(source.includes("--synapse-database-uri sqlite:///path/to/homeserver.db"), source);
  });

  it("SQLite in a database section: names database.args.database", () => {
    const { synapse, setup } = setupFor("database: {name: sqlite3, args: {database: hs.db}}\n");
    assert.ok(
      setup.synapseTarget.settingsSource.startsWith(`database.args.database in ${synapse}`),
      setup.synapseTarget.settingsSource,
    );
  });

  it("PostgreSQL in the databases form: names that entry's args", () => {
    const { synapse, setup } = setupFor("databases:\n  main: {name: psycopg2, data_stores: [main, state], args: {dbname: s}}\n");
    assert.equal(setup.synapseTarget.settingsSource, `databases.main.args in ${synapse} (or pass --synapse-database-uri)`);
  });
});
