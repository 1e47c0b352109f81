import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isUsableBcryptHash, sqlIsUsableBcryptHash } from "./password-hash.ts";
import { BCRYPT_HASH } from "../../test/builders.ts";
import { evaluateCondition, useCluster } from "../../test/harness/sql-condition.ts";

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

describe("usable password hashes", () => {
  for (const [hash, usable] of cases) {
    it(`${JSON.stringify(hash)} is ${usable ? "" : "not "}a hash MAS can verify`, () => {
      assert.equal(isUsableBcryptHash(hash), usable);
    });
  }

  const cluster = useCluster();
  for (const engine of ["sqlite", "postgres"] as const) {
    it(`the SQL predicate agrees with the function on every case (${engine})`, async () => {
      const verdicts = await evaluateCondition(
        engine,
        (v) => sqlIsUsableBcryptHash(v, engine),
        cases.map(([h]) => h),
        cluster(),
      );
      assert.deepEqual(
        verdicts,
        cases.map(([, usable]) => usable),
      );
    });
  }
});
