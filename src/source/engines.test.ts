/**
 * What the Synapse source and the checks' snapshot readers answer for the same rows, written once
 * and run over both engines: PostgreSQL (the harness's throwaway cluster, Synapse 1.160's schema)
 * and SQLite (the same schema as Synapse writes it there).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { SynapseDevice } from "../model/synapse.ts";
import { synapseSchemaSql } from "../../test/harness/fixtures.ts";
import { startCluster, type Cluster } from "../../test/harness/postgres.ts";
import { synapseSqliteSchema, writeSqlite } from "../../test/harness/sqlite.ts";
import { countRows, countRowsBatch, duplicateRows } from "./findings-sql.ts";
import { openPostgresSnapshot } from "./postgres/snapshot.ts";
import { openPostgresSource } from "./postgres/source.ts";
import type { Engine, SnapshotReaders } from "./snapshot-readers.ts";
import type { SynapseSource } from "./source.ts";
import { openSqliteSynapse } from "./sqlite/source.ts";
import { invalidUserIdRows, missingSynapseColumns } from "./synapse-stats.ts";
import { all, DECODED_A1_REFRESH, DECODED_USERS } from "../../test/harness/synapse-reads.ts";

/** Rows as Synapse writes them (TRUE/FALSE are 1/0 on SQLite, as Synapse stores its booleans there). */
const ROWS = `
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, appservice_id) VALUES
  ('@alice:example.com', '$2b$12$hash', 1795406856, 1, 0, 0, TRUE, NULL),
  ('@bob:example.com', NULL, NULL, 0, 1, 0, FALSE, ''),
  ('@bridge:example.com', '', 1795406000, 0, 0, 0, FALSE, 'bridge');
INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden) VALUES
  ('@alice:example.com', 'A1', 'phone ✓', 1795406856636, '10.0.0.1', 'ua', FALSE),
  ('@alice:example.com', 'A2', NULL, NULL, '-', NULL, NULL),
  ('@alice:example.com', 'A3', NULL, NULL, 'fe80::1%eth0', NULL, TRUE),
  ('@alice:example.com', 'A4', NULL, -5, ' not-an-ip ', NULL, FALSE),
  ('@alice:example.com', 'A5', NULL, NULL, ' ::ffff:10.0.0.1 ', NULL, FALSE),
  ('@ghost:example.com', 'G1', NULL, NULL, NULL, NULL, FALSE);
INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id, expiry_ts, ultimate_session_expiry_ts) VALUES
  (2, '@alice:example.com', 'A1', 'syr_new', NULL, NULL, 1795406000200),
  (1, '@alice:example.com', 'A1', 'syr_old', 2, 1795406000100, NULL),
  (3, '@alice:example.com', 'A1', 'syr_alone', NULL, NULL, NULL);
INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
  (10, '@alice:example.com', 'A1', 'syt_old', 1795500000000, NULL, 1795406000001, 1, TRUE),
  (11, '@alice:example.com', 'A1', 'syt_new', NULL, NULL, NULL, 2, TRUE),
  (12, '@alice:example.com', NULL, 'syt_loose', NULL, '@bob:example.com', 1795406000002, NULL, NULL),
  (13, '@alice:example.com', 'GONE', 'syt_gone', NULL, NULL, 1795406000003, NULL, FALSE);
INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES
  ('@alice:example.com', 'email', 'alice@example.com', 1, 1795406856000),
  ('@nobody:example.com', 'msisdn', '4470000', 1, 2);
INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ('oidc-keycloak', 'kc-1', '@alice:example.com');
`;

const PARAMS = { serverName: "example.com", now: 1795406000150 };

/** A source and snapshot readers (one extra connection) over the rows above. */
interface Opened {
  source: SynapseSource;
  readers: SnapshotReaders;
  close(): Promise<void>;
}

describe("both engines, the same answers", () => {
  let cluster: Cluster;
  let dir: string;
  let databases = 0;

  before(async () => {
    cluster = await startCluster();
    dir = mkdtempSync(join(tmpdir(), "syn2mas-engines-"));
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const open: Record<Engine, () => Promise<Opened>> = {
    async postgres() {
      const name = `engines_${++databases}`;
      await cluster.createDatabase(name, { fromSqlFile: synapseSchemaSql });
      await cluster.sql(name, ROWS);
      const connect = async (): Promise<pg.Client> => {
        const client = new pg.Client({ connectionString: cluster.uri(name) });
        await client.connect();
        return client;
      };
      const main = await connect();
      const source = await openPostgresSource(main);
      const readers = await openPostgresSnapshot(main, connect, 1);
      return {
        source,
        readers,
        async close() {
          await readers.close();
          await source.close();
          await main.end();
        },
      };
    },
    async sqlite() {
      const path = join(dir, `engines-${++databases}.db`);
      await writeSqlite(path, `PRAGMA journal_mode = WAL;\n${await synapseSqliteSchema()}\n${ROWS}`);
      const opened = await openSqliteSynapse(path, { extraConnections: 1 });
      return {
        source: opened.source,
        readers: opened.readers,
        async close() {
          await opened.readers.close();
          await opened.source.close();
          await opened.close();
        },
      };
    },
  };

  for (const engine of ["postgres", "sqlite"] as const) {
    describe(engine, () => {
      let opened: Opened;
      before(async () => (opened = await open[engine]()));
      after(() => opened?.close());

      it("reads users, devices with their tokens, loose tokens, unpaired refresh tokens, threepids and external ids", async () => {
        const { source } = opened;
        assert.deepEqual(await all(source.readUsers()), DECODED_USERS);
        const devices = await all<SynapseDevice>(source.readDevices());
        assert.deepEqual(
          devices.map((d) => [
            d.deviceId,
            d.ip,
            d.ipUnparsable,
            d.hidden,
            d.lastSeen,
            d.displayName,
            d.owner?.name ?? null,
            d.tokens.map((t) => t.token),
          ]),
          [
            ["A1", "10.0.0.1", false, false, 1795406856636, "phone ✓", "@alice:example.com", ["syt_old", "syt_new"]],
            ["A2", null, false, false, null, null, "@alice:example.com", []],
            ["A3", null, true, true, null, null, "@alice:example.com", []],
            ["A4", null, true, false, -5, null, "@alice:example.com", []],
            ["A5", "::ffff:10.0.0.1", false, false, null, null, "@alice:example.com", []],
            ["G1", null, false, false, null, null, null, []],
          ],
        );
        const [old, fresh] = (devices[0] as SynapseDevice).tokens;
        assert.deepEqual(old?.refresh, DECODED_A1_REFRESH.old);
        assert.deepEqual(fresh?.refresh, DECODED_A1_REFRESH.fresh);
        assert.deepEqual(
          (await all(source.readLooseTokens())).map((l) => [
            l.token.id,
            l.token.deviceId,
            l.token.puppetsUserId,
            l.token.lastValidated,
            l.owner?.admin,
          ]),
          [
            [12, null, "@bob:example.com", 1795406000002, true],
            [13, "GONE", null, 1795406000003, true],
          ],
        );
        assert.deepEqual(
          (await all(source.readUnpairedRefreshTokens())).map((r) => [r.id, r.userId, r.owner?.name]),
          [[3, "@alice:example.com", "@alice:example.com"]],
        );
        assert.deepEqual(
          (await all(source.readThreepids())).map((t) => [t.userId, t.medium, t.addedAt, t.owner?.name ?? null]),
          [
            ["@alice:example.com", "email", 1795406856000, "@alice:example.com"],
            ["@nobody:example.com", "msisdn", 2, null],
          ],
        );
        assert.deepEqual(
          (await all(source.readExternalIds())).map((e) => [e.userId, e.authProvider, e.externalId, e.owner?.admin]),
          [["@alice:example.com", "oidc-keycloak", "kc-1", true]],
        );
        assert.deepEqual(
          [await source.countRows("users"), await source.countRows("devices"), await source.countRows("user_threepids")],
          [3, 6, 2],
        );
      });

      it("answers the catalog questions: columns, tables, unique indexes", async () => {
        const { readers } = opened;
        assert.equal(readers.dialect.engine, engine);
        assert.deepEqual(await missingSynapseColumns(readers), []);
        const present = await readers.presentColumns(["users", "devices"]);
        assert.ok(present.has("users.name") && present.has("devices.ip") && present.has("users.locked"));
        assert.ok(!present.has("users.ip") && !present.has("access_tokens.id"), "only the tables asked about");
        assert.deepEqual([await readers.tableExists("users"), await readers.tableExists("no_such_table")], [true, false]);
        assert.ok((await readers.uniqueIndexes("users")).some((columns) => columns.join() === "name"));
        assert.deepEqual(await duplicateRows(readers, 5), []);
      });

      it("counts the findings alike, device IPs judged as the reader's decodeIp judges them", async () => {
        const { readers } = opened;
        assert.deepEqual(await countRows(readers, "unparsableDeviceIps", PARAMS, 5), { count: 1, examples: ["A4"] });
        const [ips, lastSeen, puppets, ended, deviceless] = await countRowsBatch(
          readers,
          ["unparsableDeviceIps", "outOfRangeLastSeen", "puppetTokens", "endedSessions", "devicelessTokens"],
          PARAMS,
          5,
        );
        assert.deepEqual(ips, { count: 1, examples: ["A4"] });
        assert.deepEqual(lastSeen, { count: 1, examples: ["@alice:example.com"] });
        assert.deepEqual(puppets, { count: 1, examples: ["@alice:example.com"] });
        // syt_old's pair is superseded (counted as such, not as ended); syt_new's session limit is still ahead.
        assert.deepEqual(ended, { count: 0, examples: [] });
        assert.deepEqual(deviceless, { count: 0, examples: [] }, "the only deviceless token is a puppet's");
        const invalid = await invalidUserIdRows(readers, "example.com", 5);
        assert.deepEqual(invalid.foreign, []);
        assert.deepEqual(invalid.orphans.map((o) => [o.table, o.count, o.examples]).sort(), [
          ["devices", 1, ["@ghost:example.com"]],
          ["user_threepids", 1, ["@nobody:example.com"]],
        ]);
      });

      it("keeps answering on the extra connection once the main one is taken for streaming", async () => {
        const { readers, source } = opened;
        assert.equal(readers.extra, 1);
        await readers.detachMain();
        const [users, counted] = await Promise.all([
          all(source.readUsers()),
          readers.rows<{ n: string | number }>("SELECT count(*) AS n FROM devices"),
        ]);
        assert.equal(users.length, 3);
        assert.equal(Number(counted[0]?.n), 6);
      });
    });
  }
});
