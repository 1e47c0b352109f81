/** Table-driven tests of how Synapse and MAS check a password against a bcrypt hash, on the fixtures' own passwords. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FIXTURE_PEPPER, loadSynapseManifest } from "../../test/harness/fixtures.ts";
import {
  bcryptHash,
  bcryptInputBytes,
  bcryptMatches,
  exceedsBcryptLimit,
  nfkcChanges,
  synapseInput,
  type BcryptInput,
} from "./password-check.ts";

const SYNAPSE = synapseInput(FIXTURE_PEPPER);
const MAS_SCHEME_1: BcryptInput = { unicodeNormalization: true, pepper: FIXTURE_PEPPER };
const NO_NORMALIZATION: BcryptInput = { unicodeNormalization: false, pepper: FIXTURE_PEPPER };
const NO_PEPPER: BcryptInput = { unicodeNormalization: true, pepper: undefined };
const EMPTY_PEPPER: BcryptInput = { unicodeNormalization: true, pepper: "" };
const OTHER_PEPPER: BcryptInput = { unicodeNormalization: true, pepper: "other-pepper-456" };

const manifest = await loadSynapseManifest();
const passwords: Record<string, string> = Object.fromEntries(
  Object.entries(manifest.users).flatMap(([localpart, u]) => (u.password === null ? [] : [[localpart, u.password]])),
);

describe("the fixture passwords this test relies on", () => {
  it("include a composed Å, a ﬁ ligature and fullwidth letters, which NFKC changes, and an emoji, which it does not", () => {
    assert.equal(passwords["user0001"], "\u00c5-angstrom-1");
    assert.equal(passwords["user0005"], "\ufb01-ligature-5");
    assert.equal(passwords["user0008"], "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48-8");
    assert.equal(nfkcChanges(passwords["user0001"]!), false); // already composed
    assert.equal(nfkcChanges(passwords["user0005"]!), true);
    assert.equal(nfkcChanges(passwords["user0008"]!), true);
    assert.equal(nfkcChanges(passwords["user0002"]!), false);
  });
});

interface Case {
  name: string;
  /** How the stored hash was made (Synapse's way unless said). */
  hashedAs?: BcryptInput;
  hashed: string;
  /** How the check prepares the candidate. */
  checkedAs: BcryptInput;
  tried: string;
  accepted: boolean;
}

// Hashes are made the way Synapse made the fixtures' (NFKC, then the pepper), at cost 4 for speed.
const cases: Case[] = [
  {
    name: "the right non-ASCII password (admin)",
    hashed: passwords["admin"]!,
    checkedAs: MAS_SCHEME_1,
    tried: "admin-pass-\u03a9",
    accepted: true,
  },
  { name: "a wrong password", hashed: passwords["user0003"]!, checkedAs: MAS_SCHEME_1, tried: "wrong-pass", accepted: false },
  {
    name: "the password with one character changed",
    hashed: passwords["user0009"]!,
    checkedAs: MAS_SCHEME_1,
    tried: passwords["user0009"]!.replace("9", "8"),
    accepted: false,
  },
  {
    name: "Å typed decomposed (A + ring) against a composed password, normalising",
    hashed: passwords["user0001"]!,
    checkedAs: MAS_SCHEME_1,
    tried: "A\u030a-angstrom-1",
    accepted: true,
  },
  {
    name: "Å typed decomposed, without normalisation",
    hashed: passwords["user0001"]!,
    checkedAs: NO_NORMALIZATION,
    tried: "A\u030a-angstrom-1",
    accepted: false,
  },
  {
    name: "the ﬁ ligature password, normalising (as Synapse hashed it)",
    hashed: passwords["user0005"]!,
    checkedAs: MAS_SCHEME_1,
    tried: passwords["user0005"]!,
    accepted: true,
  },
  {
    name: "the ﬁ ligature password typed as f + i, normalising",
    hashed: passwords["user0005"]!,
    checkedAs: MAS_SCHEME_1,
    tried: "fi-ligature-5",
    accepted: true,
  },
  {
    name: "the ﬁ ligature password without normalisation: locked out",
    hashed: passwords["user0005"]!,
    checkedAs: NO_NORMALIZATION,
    tried: passwords["user0005"]!,
    accepted: false,
  },
  {
    name: "fullwidth letters without normalisation: locked out",
    hashed: passwords["user0008"]!,
    checkedAs: NO_NORMALIZATION,
    tried: passwords["user0008"]!,
    accepted: false,
  },
  {
    name: "an emoji password without normalisation: NFKC leaves it alone, so it still matches",
    hashed: passwords["user0002"]!,
    checkedAs: NO_NORMALIZATION,
    tried: passwords["user0002"]!,
    accepted: true,
  },
  { name: "the right password, no pepper configured", hashed: "abc", checkedAs: NO_PEPPER, tried: "abc", accepted: false },
  {
    name: "the right password with another pepper",
    hashed: passwords["user0003"]!,
    checkedAs: OTHER_PEPPER,
    tried: passwords["user0003"]!,
    accepted: false,
  },
  {
    name: "hashed without a pepper, checked with an empty one",
    hashedAs: NO_PEPPER,
    hashed: "plain",
    checkedAs: EMPTY_PEPPER,
    tried: "plain",
    accepted: true,
  },
  {
    name: "the password followed by the pepper, checked with no pepper (the bytes are the same)",
    hashed: "abc",
    checkedAs: NO_PEPPER,
    tried: `abc${FIXTURE_PEPPER}`,
    accepted: true,
  },
  // 72-byte edge: "x" * 54 + the 18-byte pepper is exactly 72 bytes; every byte counts.
  {
    name: "72 bytes with the pepper, right",
    hashed: "x".repeat(54),
    checkedAs: MAS_SCHEME_1,
    tried: "x".repeat(54),
    accepted: true,
  },
  {
    name: "72 bytes with the pepper, one character short",
    hashed: "x".repeat(54),
    checkedAs: MAS_SCHEME_1,
    tried: "x".repeat(53),
    accepted: false,
  },
  // Beyond 72 bytes bcrypt reads only the first 72: the pepper is cut off, and so is the password's end.
  {
    name: "80-byte password, another ending past byte 72",
    hashed: `${"y".repeat(72)}12345678`,
    checkedAs: MAS_SCHEME_1,
    tried: `${"y".repeat(72)}abcdefgh`,
    accepted: true,
  },
  {
    name: "80-byte password checked with another pepper (never read)",
    hashed: `${"y".repeat(80)}`,
    checkedAs: OTHER_PEPPER,
    tried: `${"y".repeat(80)}`,
    accepted: true,
  },
];

describe("bcryptMatches, as MAS and Synapse check a bcrypt hash", () => {
  for (const k of cases) {
    it(`${k.name}: ${k.accepted ? "accepted" : "refused"}`, async () => {
      const hash = await bcryptHash(k.hashed, k.hashedAs ?? SYNAPSE);
      assert.equal(await bcryptMatches(k.tried, hash, k.checkedAs), k.accepted);
    });
  }

  it("refuses, without throwing, a hash bcrypt cannot read", async () => {
    for (const hash of ["", "x", "$2x$04$abcdefghijklmnopqrstuu", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"]) {
      assert.equal(await bcryptMatches("anything", hash, MAS_SCHEME_1), false, JSON.stringify(hash));
    }
  });

  it("makes hashes that start $2b$ with the cost asked for", async () => {
    assert.match(await bcryptHash("p", SYNAPSE, 5), /^\$2b\$05\$[./A-Za-z0-9]{53}$/);
  });
});

describe("the byte count bcrypt reads", () => {
  const table: [string, BcryptInput, number, boolean][] = [
    ["x".repeat(54), MAS_SCHEME_1, 72, false],
    ["x".repeat(55), MAS_SCHEME_1, 73, true],
    ["x".repeat(72), NO_PEPPER, 72, false],
    ["\ufb01", NO_PEPPER, 2, false], // NFKC: "fi"
    ["\ufb01", { unicodeNormalization: false, pepper: undefined }, 3, false], // U+FB01 is 3 bytes of UTF-8
    ["🔑".repeat(18), NO_PEPPER, 72, false],
    ["🔑".repeat(18) + "a", NO_PEPPER, 73, true],
  ];
  for (const [password, input, bytes, exceeds] of table) {
    it(`${JSON.stringify(password).slice(0, 20)}… ${input.unicodeNormalization ? "NFKC" : "raw"}, pepper ${input.pepper === undefined ? "none" : "set"}: ${bytes} bytes`, () => {
      assert.equal(bcryptInputBytes(password, input), bytes);
      assert.equal(exceedsBcryptLimit(password, input), exceeds);
    });
  }
});
