import { describe, it } from "node:test";
import assert from "node:assert/strict";
import sqlite3 from "sqlite3";
import { isUsableBcryptHash, sqlIsUsableBcryptHash } from "./password-hash.ts";
import { BCRYPT_HASH } from "../../test/builders.ts";

/** Hashes and whether MAS's bcrypt can read them. */
const cases: [string, boolean][] = [
  [BCRYPT_HASH, true],
  [BCRYPT_HASH.replace("$2b$", "$2a$"), true],
  [BCRYPT_HASH.replace("$2b$", "$2x$"), true],
  [BCRYPT_HASH.replace("$2b$", "$2y$"), true],
  [BCRYPT_HASH.replace("$12$", "$04$"), true],
  [BCRYPT_HASH.replace("$12$", "$31$"), true],
  ["$2b$12$./xoG5V1K9bO8yFh3c2fUe3M4x1mYx5mRz3vJm4V9C7pN0kL2aB./", true],
  ["", false],
  ["x", false],
  ["$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", false],
  [BCRYPT_HASH.slice(0, 59), false],
  [`${BCRYPT_HASH}u`, false],
  [`${BCRYPT_HASH}\n`, false],
  [` ${BCRYPT_HASH.slice(1)}`, false],
  [BCRYPT_HASH.replace("$2b$", "$2c$"), false],
  [BCRYPT_HASH.replace("$2b$", "$2B$"), false],
  [BCRYPT_HASH.replace("$12$", "$03$"), false],
  [BCRYPT_HASH.replace("$12$", "$32$"), false],
  [BCRYPT_HASH.replace("$12$", "$1a$"), false],
  [BCRYPT_HASH.replace("$12$", "$12x"), false],
  [BCRYPT_HASH.replace("Q0xo", "Q0x+"), false],
  [BCRYPT_HASH.replace("Q0xo", "Q0x$"), false],
  [BCRYPT_HASH.replace("Q0xo", "Q0xé"), false],
];

/** Evaluates the SQL predicate on each hash in an in-memory SQLite database (PostgreSQL runs it in the e2e tests). */
function sqliteVerdicts(hashes: string[]): Promise<boolean[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(":memory:", (openError) => {
      if (openError) return reject(openError);
      const values = hashes.map(() => "(?)").join(", ");
      db.all<{ ok: number }>(
        `WITH h(v) AS (VALUES ${values}) SELECT ${sqlIsUsableBcryptHash("v")} AS ok FROM h`,
        hashes,
        (error, rows) => db.close(() => (error ? reject(error) : resolve(rows.map((r) => r.ok === 1)))),
      );
    });
  });
}

describe("usable password hashes", () => {
  for (const [hash, usable] of cases) {
    it(`${JSON.stringify(hash)} is ${usable ? "" : "not "}a hash MAS can verify`, () => {
      assert.equal(isUsableBcryptHash(hash), usable);
    });
  }

  it("the SQL predicate agrees with the function on every case", async () => {
    assert.deepEqual(
      await sqliteVerdicts(cases.map(([h]) => h)),
      cases.map(([, usable]) => usable),
    );
  });
});
