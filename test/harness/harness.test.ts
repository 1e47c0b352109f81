/** Checks the test harness itself: a throwaway cluster, fixture loading, cloning, fingerprints and config copies. */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { startCluster } from "./postgres.ts";
import type { Cluster } from "./postgres.ts";
import { loadSynapseManifest, masEmptySql, masProvidersSql, synapseSmallSql } from "./fixtures.ts";
import { writeMasConfig, writeSynapseConfig } from "./temp-config.ts";

describe("test harness", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });

  after(async () => {
    await cluster?.stop();
  });

  it("loads the Synapse fixture", async () => {
    await cluster.createDatabase("synapse", { fromSqlFile: synapseSmallSql });
    const rows = await cluster.sql<{ n: string }>("synapse", "select count(*) as n from users");
    assert.equal(Number(rows[0]?.n), 50);
  });

  it("clones a database into an identical copy", async () => {
    await cluster.cloneDatabase("synapse", "synapse_copy");
    const source = await cluster.dump("synapse");
    const clone = await cluster.dump("synapse_copy");
    assert.ok(source.length > 0);
    assert.match(source, /^relation public\.users kind=r /m);
    assert.match(source, /^rows public\.users count=50 md5=[0-9a-f]{32}$/m);
    assert.equal(clone, source);
    await cluster.dropDatabase("synapse_copy");
    const left = await cluster.sql("postgres", "select 1 from pg_database where datname = $1", ["synapse_copy"]);
    assert.equal(left.length, 0);
  });

  it("loads a MAS database with its providers", async () => {
    await cluster.createDatabase("mas", { fromSqlFile: [masEmptySql("1.22.0"), masProvidersSql] });
    const rows = await cluster.sql("mas", "select * from upstream_oauth_providers");
    assert.equal(rows.length, 2);
  });

  it("reads the manifest", async () => {
    const manifest = await loadSynapseManifest();
    assert.equal(manifest.server, "example.com");
    assert.equal(manifest.users.admin?.admin, true);
    assert.deepEqual(manifest.users.ssoonly1?.threepids, []);
    assert.ok(manifest.tokens.length > 0);
  });

  it("writes config copies pointing at the cluster", async () => {
    const dir = await mkdtemp(join(tmpdir(), "syn2mas-config-"));
    try {
      const synapsePath = await writeSynapseConfig(dir, {
        databaseUri: cluster.uri("synapse"),
        overrides: { allow_guest_access: false, pid_file: undefined },
      });
      const synapse = parse(await readFile(synapsePath, "utf8")) as Record<string, any>;
      assert.deepEqual(
        { ...synapse.database.args, cp_min: undefined, cp_max: undefined },
        {
          user: "postgres",
          password: "",
          dbname: "synapse",
          host: "127.0.0.1",
          port: cluster.port,
          cp_min: undefined,
          cp_max: undefined,
        },
      );
      assert.equal(synapse.allow_guest_access, false);
      assert.equal("pid_file" in synapse, false);
      assert.equal(synapse.server_name, "example.com");

      const masPath = await writeMasConfig(dir, { uri: cluster.uri("mas") });
      const mas = parse(await readFile(masPath, "utf8")) as Record<string, any>;
      assert.equal(mas.database.uri, cluster.uri("mas"));
      assert.equal(mas.passwords.schemes.length, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
