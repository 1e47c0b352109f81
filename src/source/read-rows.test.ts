import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CopyTextBatch } from "./field-reader.ts";
import {
  devicesFrom,
  looseTokensFrom,
  threepidsFrom,
  unpairedRefreshTokensFrom,
  usersFrom,
  type FieldBatches,
} from "./read-rows.ts";
import { all } from "../../test/harness/synapse-reads.ts";

/** Batches of COPY text, one per argument, each a list of rows of fields (null is `\N`). */
async function* batches(...chunks: (string | null)[][][]): AsyncGenerator<CopyTextBatch> {
  for (const rows of chunks) {
    const text = rows.map((r) => `${r.map((v) => v ?? "\\N").join("\t")}\n`).join("");
    yield new CopyTextBatch(text, text.length);
  }
}

const A = "@a:example.com";
const OWNER_A = [A, "1795406856", "1", "0", "0", null];
const NO_OWNER = [null, null, null, null, null, null];
const NO_TOKEN = [null, null, null, null, null, null, null, null, null, null, null, null];

describe("decoding the reads", () => {
  it("users: flags, NULL creation time, an empty appservice id as none", async () => {
    const users = await all(
      usersFrom(
        batches([
          [A, "1795406856", "1", "0", "1", "", "$2b$hash", "t", "f"],
          ["@b:example.com", null, "0", "1", "0", "irc", null, "f", "t"],
        ]),
      ),
    );
    assert.deepEqual(users, [
      {
        name: A,
        creationTs: 1795406856,
        admin: true,
        isGuest: false,
        deactivated: true,
        appserviceId: null,
        passwordHash: "$2b$hash",
        locked: true,
        hasExternalId: false,
      },
      {
        name: "@b:example.com",
        creationTs: null,
        admin: false,
        isGuest: true,
        deactivated: false,
        appserviceId: "irc",
        passwordHash: null,
        locked: false,
        hasExternalId: true,
      },
    ]);
  });

  it("threepids: the joined owner, or null when no users row matched", async () => {
    const rows = await all(
      threepidsFrom(
        batches([
          [A, "email", "a@example.com", "1795406856000", ...OWNER_A],
          ["@gone:example.com", "msisdn", "447", null, ...NO_OWNER],
        ]),
      ),
    );
    assert.deepEqual(rows[0], {
      userId: A,
      medium: "email",
      address: "a@example.com",
      addedAt: 1795406856000,
      owner: { name: A, creationTs: 1795406856, admin: true, isGuest: false, deactivated: false, appserviceId: null },
    });
    assert.equal(rows[1]?.owner, null);
    assert.equal(rows[1]?.addedAt, 0, "a NULL added_at reads as 0");
  });

  it("devices: a device's token rows grouped, also across batch ends; a device without tokens", async () => {
    const device = (id: string) => [A, id, "phone", "1795406856636", "10.0.0.1", "ua", "f", ...OWNER_A];
    const token = (id: string, dev: string, refresh: (string | null)[]) => [
      id,
      A,
      dev,
      `syt_${id}`,
      null,
      null,
      "1795406000001",
      ...refresh,
    ];
    const read = await all(
      devicesFrom(
        batches(
          [
            [...device("D1"), ...token("1", "D1", ["5", "syr_5", "t", "1795500000000", null])],
            [...device("D1"), ...token("2", "D1", [null, null, null, null, null])],
          ],
          [
            [...device("D1"), ...token("3", "D1", ["6", "syr_6", "f", null, "9223372036854775807"])],
            [...device("D2"), ...NO_TOKEN],
          ],
          [[A, "D3", null, null, "fe80::1%eth0", null, "t", ...NO_OWNER, ...NO_TOKEN]],
        ),
      ),
    );
    assert.deepEqual(
      read.map((d) => [d.deviceId, d.tokens.map((t) => t.id)]),
      [
        ["D1", [1, 2, 3]],
        ["D2", []],
        ["D3", []],
      ],
    );
    const [d1, , d3] = read;
    assert.deepEqual(d1?.tokens[0], {
      id: 1,
      userId: A,
      deviceId: "D1",
      token: "syt_1",
      validUntilMs: null,
      puppetsUserId: null,
      lastValidated: 1795406000001,
      refresh: { id: 5, token: "syr_5", supersededAndUsed: true, expiryTs: 1795500000000, ultimateSessionExpiryTs: null },
    });
    assert.equal(d1?.tokens[1]?.refresh, null);
    assert.deepEqual(d1?.tokens[2]?.refresh, {
      id: 6,
      token: "syr_6",
      supersededAndUsed: false,
      expiryTs: null,
      ultimateSessionExpiryTs: 2 ** 63, // bigint max, as the nearest double
    });
    assert.deepEqual(
      [d1?.displayName, d1?.lastSeen, d1?.ip, d1?.ipUnparsable, d1?.hidden],
      ["phone", 1795406856636, "10.0.0.1", false, false],
    );
    assert.deepEqual([d3?.owner, d3?.ip, d3?.ipUnparsable, d3?.hidden], [null, null, true, true]);
  });

  it("loose tokens: the owner first, then a token that may have no device", async () => {
    const read = await all(
      looseTokensFrom(
        batches([
          [...OWNER_A, "9", A, null, "syt_9", "1795500000000", "@b:example.com", null, null, null, null, null, null],
          [...NO_OWNER, "10", "@x:example.com", "GONE", "syt_10", null, null, null, null, null, null, null, null],
        ]),
      ),
    );
    assert.deepEqual(read[0]?.token, {
      id: 9,
      userId: A,
      deviceId: null,
      token: "syt_9",
      validUntilMs: 1795500000000,
      puppetsUserId: "@b:example.com",
      lastValidated: null,
      refresh: null,
    });
    assert.equal(read[0]?.owner?.name, A);
    assert.deepEqual([read[1]?.owner, read[1]?.token.userId, read[1]?.token.deviceId], [null, "@x:example.com", "GONE"]);
  });

  it("unpaired refresh tokens", async () => {
    const read = await all(unpairedRefreshTokensFrom(batches([["7", A, ...OWNER_A]])));
    assert.deepEqual(
      read.map((r) => [r.id, r.userId, r.owner?.admin]),
      [[7, A, true]],
    );
  });

  it("stops at nothing: no batches, no rows", async () => {
    const none: FieldBatches = batches();
    assert.deepEqual(await all(devicesFrom(none)), []);
  });
});
