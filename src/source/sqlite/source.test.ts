import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SynapseDevice, SynapseUser } from "../../model/synapse.ts";
import { synapseSqliteSchema, writeSqlite } from "../../../test/harness/sqlite.ts";
import { RowObjectBatch } from "../field-reader.ts";
import { columnNames } from "../read-columns.ts";
import { devicesFrom } from "../read-rows.ts";
import { openSqliteSynapse } from "./source.ts";
import { all, DECODED_A1_REFRESH, DECODED_USERS } from "../../../test/harness/synapse-reads.ts";

/** The devices decoded from driver rows of the devices read. */
async function devicesOf(...rows: Record<string, string | number | null>[]): Promise<SynapseDevice[]> {
  async function* one(): AsyncGenerator<RowObjectBatch> {
    yield new RowObjectBatch(rows, columnNames("devices"));
  }
  return all(devicesFrom(one()));
}

/** Rows as Synapse writes them on SQLite: integer flags and booleans, NULLs in old rows, text everywhere else. */
const ROWS = `
INSERT INTO users (name, password_hash, creation_ts, admin, is_guest, deactivated, locked, appservice_id) VALUES
  ('@alice:example.com', '$2b$12$hash', 1795406856, 1, 0, 0, 1, NULL),
  ('@bob:example.com', NULL, NULL, 0, 1, 0, 0, ''),
  ('@bridge:example.com', '', 1795406000, 0, 0, 0, 0, 'bridge'),
  (NULL, NULL, 1, 0, 0, 0, 0, NULL);
INSERT INTO devices (user_id, device_id, display_name, last_seen, ip, user_agent, hidden) VALUES
  ('@alice:example.com', 'A1', 'phone ✓', 1795406856636, '10.0.0.1', 'ua', 0),
  ('@alice:example.com', 'A2', NULL, NULL, '-', NULL, NULL),
  ('@alice:example.com', 'A3', NULL, NULL, 'fe80::1%eth0', NULL, 1),
  ('@ghost:example.com', 'G1', NULL, NULL, NULL, NULL, 0);
INSERT INTO refresh_tokens (id, user_id, device_id, token, next_token_id, expiry_ts, ultimate_session_expiry_ts) VALUES
  (1, '@alice:example.com', 'A1', 'syr_old', 2, 1795406000100, NULL),
  (2, '@alice:example.com', 'A1', 'syr_new', NULL, NULL, 1795406000200),
  (3, '@alice:example.com', 'A1', 'syr_alone', NULL, NULL, NULL);
INSERT INTO access_tokens (id, user_id, device_id, token, valid_until_ms, puppets_user_id, last_validated, refresh_token_id, used) VALUES
  (10, '@alice:example.com', 'A1', 'syt_old', 1795500000000, NULL, 1795406000001, 1, 1),
  (11, '@alice:example.com', 'A1', 'syt_new', NULL, NULL, NULL, 2, 1),
  (12, '@alice:example.com', NULL, 'syt_loose', NULL, '@bob:example.com', 1795406000002, NULL, NULL),
  (13, '@alice:example.com', 'GONE', 'syt_gone', NULL, NULL, 1795406000003, 99, 0);
INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES
  ('@alice:example.com', 'email', 'alice@example.com', 1, 1795406856000),
  ('@nobody:example.com', 'msisdn', '4470000', 1, 2);
INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ('oidc-keycloak', 'kc-1', '@alice:example.com');
`;

describe("the SQLite reader", () => {
  let dir: string;
  let db: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "syn2mas-sqlite-unit-"));
    db = join(dir, "homeserver.db");
    await writeSqlite(db, `PRAGMA journal_mode = WAL;\n${await synapseSqliteSchema()}\n${ROWS}`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("decodes SQLite's integers, NULLs and texts into the values PostgreSQL's t/f and numeric strings give", async () => {
    const opened = await openSqliteSynapse(db);
    try {
      assert.equal(opened.mode, "immutable", "a cleanly closed WAL database: its main file holds everything");
      const users = await all<SynapseUser>(opened.source.readUsers());
      assert.deepEqual(users, DECODED_USERS);
      const devices = await all<SynapseDevice>(opened.source.readDevices());
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
          ["G1", null, false, false, null, null, null, []],
        ],
      );
      const [old, fresh] = (devices[0] as SynapseDevice).tokens;
      assert.deepEqual(old?.refresh, DECODED_A1_REFRESH.old);
      assert.deepEqual(fresh?.refresh, DECODED_A1_REFRESH.fresh);
      assert.equal(old?.validUntilMs, 1795500000000);
      assert.equal(fresh?.lastValidated, null);
      const loose = await all(opened.source.readLooseTokens());
      assert.deepEqual(
        loose.map((l) => [l.token.token, l.token.deviceId, l.token.puppetsUserId, l.token.refresh, l.owner?.admin]),
        [
          ["syt_loose", null, "@bob:example.com", null, true],
          ["syt_gone", "GONE", null, null, true],
        ],
      );
      assert.deepEqual(
        (await all(opened.source.readUnpairedRefreshTokens())).map((r) => [r.id, r.userId]),
        [[3, "@alice:example.com"]],
      );
      const threepids = await all(opened.source.readThreepids());
      assert.deepEqual(
        threepids.map((t) => [t.userId, t.medium, t.address, t.addedAt, t.owner?.name ?? null]),
        [
          ["@alice:example.com", "email", "alice@example.com", 1795406856000, "@alice:example.com"],
          ["@nobody:example.com", "msisdn", "4470000", 2, null],
        ],
      );
      assert.deepEqual(await all(opened.source.readExternalIds()), [
        {
          userId: "@alice:example.com",
          owner: {
            name: "@alice:example.com",
            creationTs: 1795406856,
            admin: true,
            isGuest: false,
            deactivated: false,
            appserviceId: null,
          },
          authProvider: "oidc-keycloak",
          externalId: "kc-1",
        },
      ]);
      assert.equal(await opened.source.countRows("devices"), 4);
      await opened.source.close();
    } finally {
      await opened.close();
    }
    assert.deepEqual(readdirSync(dir), ["homeserver.db"], "no -wal, -shm or journal was created");
  });

  it("decodes a row the same whichever database it came from", async () => {
    const fromPostgres = {
      user_id: "@a:x",
      device_id: "D",
      display_name: null,
      last_seen: "17",
      ip: "::1",
      user_agent: null,
      hidden: "f",
      o_name: "@a:x",
      o_creation_ts: "5",
      o_admin: "1",
      o_is_guest: "0",
      o_deactivated: "0",
      o_appservice_id: null,
      a_id: "7",
      a_user_id: "@a:x",
      a_device_id: "D",
      a_token: "syt_x",
      a_valid_until_ms: null,
      a_puppets_user_id: null,
      a_last_validated: "9",
      r_id: "3",
      r_token: "syr_x",
      r_superseded_and_used: "t",
      r_expiry_ts: "11",
      r_ultimate_session_expiry_ts: null,
    };
    const fromSqlite = {
      ...fromPostgres,
      last_seen: 17,
      hidden: 0,
      o_creation_ts: 5,
      o_admin: 1,
      o_is_guest: 0,
      o_deactivated: 0,
      a_id: 7,
      a_last_validated: 9,
      r_id: 3,
      r_superseded_and_used: 1,
      r_expiry_ts: 11,
    };
    const [device] = await devicesOf(fromSqlite);
    assert.deepEqual(device, (await devicesOf(fromPostgres))[0]);
    assert.equal(device?.tokens[0]?.refresh?.supersededAndUsed, true);
    assert.equal(device?.tokens[0]?.refresh?.expiryTs, 11);
    assert.equal((await devicesOf({ ...fromSqlite, hidden: null }))[0]?.hidden, false, "NULL hidden (old rows) is visible");
  });

  it("streams in pages: every row of a table larger than a page, devices kept whole across page ends", async () => {
    const many = join(dir, "many.db");
    const users = Array.from({ length: 9000 }, (_, i) => `('@u${i}:example.com', 1, 0, 0, 0, 0)`).join(",\n");
    const devices = Array.from({ length: 9000 }, (_, i) => `('@u${i}:example.com', 'D${i}', 0)`).join(",\n");
    const tokens = Array.from(
      { length: 9000 },
      (_, i) =>
        `(${i + 1}, '@u${i}:example.com', 'D${i}', 'syt_${i}_a'), (${i + 100001}, '@u${i}:example.com', 'D${i}', 'syt_${i}_b')`,
    ).join(",\n");
    await writeSqlite(
      many,
      `${await synapseSqliteSchema()}
       INSERT INTO users (name, creation_ts, admin, is_guest, deactivated, locked) VALUES ${users};
       INSERT INTO devices (user_id, device_id, hidden) VALUES ${devices};
       INSERT INTO access_tokens (id, user_id, device_id, token) VALUES ${tokens};`,
    );
    const opened = await openSqliteSynapse(many);
    try {
      assert.equal((await all(opened.source.readUsers())).length, 9000);
      const read = await all(opened.source.readDevices());
      assert.equal(read.length, 9000);
      assert.ok(read.every((d) => d.tokens.length === 2 && d.tokens[0]?.token === `syt_${d.deviceId.slice(1)}_a`));
      // Stopping early leaves the connection usable.
      for await (const _ of opened.source.readUsers()) break;
      assert.equal(await opened.source.countRows("users"), 9000);
    } finally {
      await opened.close();
    }
  });

  it("fails the read when the file changed while it was read without locks", async () => {
    const copy = join(dir, "changing.db");
    await writeSqlite(copy, `PRAGMA journal_mode = WAL;\n${await synapseSqliteSchema(["users"])}`);
    const opened = await openSqliteSynapse(copy);
    try {
      assert.equal(opened.mode, "immutable");
      appendFileSync(copy, Buffer.alloc(4096));
      await assert.rejects(opened.source.close(), /changed while it was being read/);
    } finally {
      await opened.close();
    }
  });

  it("reads a rollback-journal database (not WAL) read-only, creating nothing", async () => {
    const sub = mkdtempSync(join(dir, "rollback-"));
    const rollback = join(sub, "homeserver.db");
    await writeSqlite(
      rollback,
      // user_external_ids too: the users read says whether each has one.
      `${await synapseSqliteSchema(["users", "user_external_ids"])}
      INSERT INTO users (name, creation_ts, admin, is_guest, deactivated, locked) VALUES ('@x:example.com', 1, 0, 0, 0, 0);`,
    );
    const opened = await openSqliteSynapse(rollback);
    try {
      assert.equal(opened.mode, "read-only");
      assert.deepEqual(
        (await all(opened.source.readUsers())).map((u) => u.name),
        ["@x:example.com"],
      );
      await opened.source.close();
    } finally {
      await opened.close();
    }
    assert.deepEqual(readdirSync(sub), ["homeserver.db"]);
  });

  it("refuses a file that is not a database, naming it", async () => {
    const text = join(dir, "notes.txt");
    appendFileSync(text, "hello, this is not SQLite at all. ".repeat(10));
    await assert.rejects(openSqliteSynapse(text), /notes\.txt is not an SQLite database/);
    await assert.rejects(openSqliteSynapse(join(dir, "missing.db")), /missing\.db: no such file/);
  });
});
