/** The database fingerprint that replaces pg_dump comparisons: equal for copies, different after any change the tests guard. */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { masEmptySql, masProvidersSql, synapseSmallSql } from "./fixtures.ts";
import { startCluster } from "./postgres.ts";
import type { Cluster } from "./postgres.ts";

describe("database fingerprint", () => {
  let cluster: Cluster;
  let synapse: string;
  let mas: string;

  before(async () => {
    cluster = await startCluster();
    await cluster.createDatabase("synapse", { fromSqlFile: synapseSmallSql });
    await cluster.createDatabase("mas", { fromSqlFile: [masEmptySql("1.22.0"), masProvidersSql] });
    synapse = await cluster.dump("synapse");
    mas = await cluster.dump("mas");
  });

  after(async () => {
    await cluster?.stop();
  });

  /** Clones `source`, applies `change` to the copy and returns the copy's fingerprint; the copy is dropped. */
  async function afterChange(source: string, change: string): Promise<string> {
    await cluster.cloneDatabase(source, "changed");
    try {
      await cluster.sql("changed", change);
      return await cluster.dump("changed");
    } finally {
      await cluster.dropDatabase("changed");
    }
  }

  /** The lines of `after` that are not in `before`. */
  function added(before: string, after: string): string[] {
    const old = new Set(before.split("\n"));
    return after.split("\n").filter((line) => !old.has(line));
  }

  it("is the same for a database and its clone, and for two takes of one database", async () => {
    assert.equal(await cluster.dump("synapse"), synapse);
    await cluster.cloneDatabase("synapse", "synapse_copy");
    assert.equal(await cluster.dump("synapse_copy"), synapse);
    await cluster.dropDatabase("synapse_copy");
  });

  it("detects a changed row", async () => {
    const changed = await afterChange("synapse", "UPDATE users SET admin = 1 - admin WHERE name = '@admin:example.com'");
    assert.notEqual(changed, synapse);
    assert.deepEqual(
      added(synapse, changed).map((line) => line.replace(/ md5=.*/, "")),
      ["rows public.users count=50"],
    );
  });

  it("detects one changed character in a text column", async () => {
    const changed = await afterChange(
      "mas",
      "UPDATE upstream_oauth_providers SET human_name = 'Keycloak ' WHERE human_name = 'Keycloak'",
    );
    assert.deepEqual(
      added(mas, changed).map((line) => line.replace(/ md5=.*/, "")),
      ["rows public.upstream_oauth_providers count=2"],
    );
  });

  it("detects a dropped index", async () => {
    const changed = await afterChange("synapse", "DROP INDEX users_creation_ts");
    assert.notEqual(changed, synapse);
    assert.ok(
      synapse
        .split("\n")
        .includes("index public.users_creation_ts CREATE INDEX users_creation_ts ON public.users USING btree (creation_ts)"),
    );
    assert.deepEqual(added(changed, synapse), [
      "index public.users_creation_ts CREATE INDEX users_creation_ts ON public.users USING btree (creation_ts)",
    ]);
  });

  it("detects a changed sequence value, and a sequence only marked as called or not", async () => {
    const [state] = await cluster.sql<{ last_value: string; is_called: boolean }>(
      "synapse",
      "SELECT last_value, is_called FROM account_data_sequence",
    );
    assert.ok(state !== undefined);
    assert.ok(
      synapse
        .split("\n")
        .includes(`sequence-state public.account_data_sequence last_value=${state.last_value} is_called=${state.is_called}`),
    );
    const advanced = await afterChange("synapse", "SELECT nextval('account_data_sequence')");
    const next = state.is_called ? Number(state.last_value) + 1 : Number(state.last_value);
    assert.deepEqual(added(synapse, advanced), [`sequence-state public.account_data_sequence last_value=${next} is_called=true`]);
    const toggled = await afterChange(
      "synapse",
      "SELECT setval('account_data_sequence', last_value, NOT is_called) FROM account_data_sequence",
    );
    assert.deepEqual(added(synapse, toggled), [
      `sequence-state public.account_data_sequence last_value=${state.last_value} is_called=${!state.is_called}`,
    ]);
  });

  it("detects a dropped constraint", async () => {
    const changed = await afterChange(
      "synapse",
      "ALTER TABLE users_to_send_full_presence_to DROP CONSTRAINT users_to_send_full_presence_to_user_id_fkey",
    );
    assert.deepEqual(added(changed, synapse), [
      "constraint public.users_to_send_full_presence_to users_to_send_full_presence_to_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(name)",
    ]);
    assert.deepEqual(added(synapse, changed), []);
  });

  it("detects a changed column default and an added column", async () => {
    const changedDefault = await afterChange("mas", "ALTER TABLE users ALTER COLUMN can_request_admin SET DEFAULT true");
    assert.notEqual(changedDefault, mas);
    assert.match(
      added(mas, changedDefault).join("\n"),
      /^column public\.users #\d+ can_request_admin boolean not null default true$/,
    );
    const addedColumn = await afterChange("mas", "ALTER TABLE users ADD COLUMN extra text");
    assert.match(added(mas, addedColumn).join("\n"), /^column public\.users #\d+ extra text collate="default"$/);
  });

  it("detects a changed storage option and row-level security", async () => {
    const options = await afterChange("mas", "ALTER TABLE users SET (fillfactor = 70)");
    assert.deepEqual(added(mas, options), [
      "relation public.users kind=r persistence=p acl=- options={fillfactor=70} row_security=false replica_identity=d",
    ]);
    const rls = await afterChange("mas", "ALTER TABLE users ENABLE ROW LEVEL SECURITY; CREATE POLICY own ON users USING (true)");
    assert.deepEqual(added(mas, rls).sort(), [
      "policy public.users own PERMISSIVE ALL roles={public} using=true check=-",
      "relation public.users kind=r persistence=p acl=- options=- row_security=true replica_identity=d",
    ]);
  });
});
