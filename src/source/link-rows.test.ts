/** The `--link` checks' reads (link-rows.ts) on both engines: the same rows, page by page, and the users without a login. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import { synapseSchemaSql } from "../../test/harness/fixtures.ts";
import { startCluster, type Cluster } from "../../test/harness/postgres.ts";
import { scratchDir } from "../../test/harness/scratch.ts";
import { synapseSqliteSchema, writeSqlite } from "../../test/harness/sqlite.ts";
import {
  anyLocalpartLinkedUser,
  linkedExternalIdPages,
  localpartLinkedUserPages,
  migratedUsersAmong,
  usersWithoutLogin,
} from "./link-rows.ts";
import { openPostgresSnapshot } from "./postgres/snapshot.ts";
import type { Engine, SnapshotReaders } from "./snapshot-readers.ts";
import { openSqliteSynapse } from "./sqlite/source.ts";

const HASH = `$2b$12$${"a".repeat(53)}`;
/**
 * ann, cid and eve have no external id and can be linked by localpart (cid and eve without a password);
 * bob is a guest, dan deactivated, the bridge an application service's, zed another server's.
 */
const ROWS = `
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, appservice_id) VALUES
  ('@ann:example.com', '${HASH}', 1, 0, 0, 0, NULL),
  ('@bob:example.com', NULL, 1, 0, 1, 0, NULL),
  ('@cid:example.com', NULL, 1, 0, 0, 0, ''),
  ('@dan:example.com', NULL, 1, 0, 0, 1, NULL),
  ('@eve:example.com', 'x', 1, 0, 0, 0, NULL),
  ('@sam:example.com', NULL, 1, 0, 0, 0, NULL),
  ('@tia:example.com', NULL, 1, 0, 0, 0, NULL),
  ('@bridge:example.com', NULL, 1, 0, 0, 0, 'irc'),
  ('@zed:other.example', NULL, 1, 0, 0, 0, NULL);
INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES
  ('saml', 's-4', '@sam:example.com'), ('saml', 's-1', '@tia:example.com'), ('saml', 's-3', '@sam:example.com'),
  ('saml', 's-2', '@dan:example.com'), ('saml', 's-0', '@bridge:example.com'), ('saml', 's-5', '@zed:other.example'),
  ('cas', 'c-1', '@tia:example.com');
`;

async function flat<T>(pages: AsyncIterable<T[]>): Promise<{ rows: T[]; sizes: number[] }> {
  const rows: T[] = [];
  const sizes: number[] = [];
  for await (const page of pages) {
    rows.push(...page);
    sizes.push(page.length);
  }
  return { rows, sizes };
}

describe("the --link reads, on both engines", () => {
  let cluster: Cluster;
  const closers: (() => Promise<void>)[] = [];
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    for (const close of closers) await close();
    await cluster?.stop();
  });

  const open: Record<Engine, () => Promise<SnapshotReaders>> = {
    async postgres() {
      await cluster.createDatabase("link_rows", { fromSqlFile: synapseSchemaSql });
      await cluster.sql("link_rows", ROWS);
      const connect = async (): Promise<pg.Client> => {
        const client = new pg.Client({ connectionString: cluster.uri("link_rows") });
        await client.connect();
        return client;
      };
      const main = await connect();
      const readers = await openPostgresSnapshot(main, connect, 0);
      closers.push(async () => {
        await readers.close();
        await main.end();
      });
      return readers;
    },
    async sqlite() {
      const path = join(scratchDir("syn2mas-link-rows-"), "homeserver.db");
      await writeSqlite(path, `${await synapseSqliteSchema()}\n${ROWS}`);
      const opened = await openSqliteSynapse(path);
      closers.push(async () => {
        await opened.source.close();
        await opened.close();
      });
      return opened.readers;
    },
  };

  for (const engine of ["postgres", "sqlite"] as const) {
    describe(engine, () => {
      let db: SnapshotReaders;
      before(async () => (db = await open[engine]()));

      it("an auth_provider's ids of migrated owners, in external id order, the same in pages of 2 as in one", async () => {
        const expected = [
          { external_id: "s-1", user_id: "@tia:example.com" },
          { external_id: "s-2", user_id: "@dan:example.com" },
          { external_id: "s-3", user_id: "@sam:example.com" },
          { external_id: "s-4", user_id: "@sam:example.com" },
        ];
        const byTwo = await flat(linkedExternalIdPages(db, "example.com", "saml", 2));
        assert.deepEqual(byTwo.rows, expected);
        // Raw pages [s-0 (the bridge's), s-1], [s-2, s-3], [s-4, s-5 (another server's)], kept to migrated owners.
        assert.deepEqual(byTwo.sizes, [1, 2, 1]);
        assert.deepEqual((await flat(linkedExternalIdPages(db, "example.com", "saml"))).sizes, [4]);
        assert.deepEqual((await flat(linkedExternalIdPages(db, "example.com", "oidc-none"))).sizes, []);
      });

      it("the users --link localpart links: not guests, deactivated, an appservice's or another server's, with no external id", async () => {
        assert.equal(await anyLocalpartLinkedUser(db, "example.com"), true);
        assert.equal(await anyLocalpartLinkedUser(db, "elsewhere.example"), false);
        const byTwo = await flat(localpartLinkedUserPages(db, "example.com", 2));
        assert.deepEqual(
          byTwo.rows.map((r) => r.name),
          ["@ann:example.com", "@cid:example.com", "@eve:example.com"],
        );
        // Raw pages [ann, bob], [bridge, cid], [dan, eve], [sam, tia], [zed], kept to those linked.
        assert.deepEqual(byTwo.sizes, [1, 1, 1]);
      });

      it("users without a login: no verifiable password, not a guest or deactivated, no external id of a linked provider", async () => {
        // eve's 'x' is no password MAS can verify; sam and tia have saml ids, tia a cas one too.
        assert.deepEqual(await usersWithoutLogin(db, "example.com", [], 5), {
          count: 4,
          examples: ["@cid:example.com", "@eve:example.com", "@sam:example.com", "@tia:example.com"],
        });
        assert.deepEqual(await usersWithoutLogin(db, "example.com", ["saml"], 5), {
          count: 2,
          examples: ["@cid:example.com", "@eve:example.com"],
        });
        assert.deepEqual(await usersWithoutLogin(db, "example.com", ["cas"], 1, 1), {
          count: 3,
          examples: ["@cid:example.com", "@eve:example.com"],
        });
      });

      it("which of a link file's users are migrated (in chunks of bind parameters)", async () => {
        const found = await migratedUsersAmong(db, "example.com", [
          "@ann:example.com",
          "@bob:example.com",
          "@dan:example.com",
          "@bridge:example.com",
          "@zed:other.example",
          "@nobody:example.com",
          ...Array.from({ length: 1500 }, (_, i) => `@absent${i}:example.com`),
          "@eve:example.com",
        ]);
        assert.deepEqual([...found].sort(), ["@ann:example.com", "@bob:example.com", "@dan:example.com", "@eve:example.com"]);
      });
    });
  }
});
