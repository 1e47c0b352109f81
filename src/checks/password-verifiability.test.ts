/** Table-driven tests of passwordVerifiability on the fixture configuration pair, edited. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeMasConfig, writeSynapseConfig, type ConfigOverrides } from "../../test/harness/temp-config.ts";
import { scratchDir } from "../../test/harness/scratch.ts";
import { FIXTURE_PEPPER } from "../../test/harness/fixtures.ts";
import { loadMasConfig } from "../config/mas.ts";
import { loadSynapseConfig } from "../config/synapse.ts";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import { passwordVerifiability, type PasswordVersionStats, type PasswordVerifiability } from "./password-verifiability.ts";

async function fixturePair(mas: ConfigOverrides = {}): Promise<[SynapseConfig, MasConfig]> {
  const dir = scratchDir("syn2mas-verifiability-");
  const synapseFile = await writeSynapseConfig(dir, { overrides: { allow_guest_access: false } });
  const masFile = await writeMasConfig(dir, { uri: "postgresql://postgres@127.0.0.1:5432/mas", overrides: mas });
  return [loadSynapseConfig([synapseFile]), loadMasConfig([masFile])];
}

const sample = (count: number, ...examples: string[]) => ({ count, examples });

/** 40 migrated users at version 1, two of them with malformed hashes; 3 rehashed by MAS at version 2. */
const STATS: PasswordVersionStats[] = [
  {
    version: 1,
    all: sample(40, "admin", "user0001", "user0002", "user0003", "user0009"),
    usableBcrypt: sample(38, "admin", "user0001", "user0002", "user0009", "user0010"),
    unusableBcrypt: sample(2, "user0003", "user0012"),
    bcryptLike: sample(39, "admin", "user0001", "user0002", "user0003", "user0009"),
  },
  {
    version: 2,
    all: sample(3, "user0020", "user0021", "user0022"),
    usableBcrypt: sample(0),
    unusableBcrypt: sample(3, "user0020", "user0021", "user0022"),
    bcryptLike: sample(0),
  },
];

const BCRYPT = { version: 1, algorithm: "bcrypt", unicode_normalization: true, secret: FIXTURE_PEPPER };
const ARGON2 = { version: 2, algorithm: "argon2id" };
const schemes = (...list: Record<string, unknown>[]): ConfigOverrides => ({ passwords: { enabled: true, schemes: list } });

interface Case {
  name: string;
  mas: ConfigOverrides;
  stats?: PasswordVersionStats[];
  unverifiable: number;
  byReason: PasswordVerifiability["byReason"];
  findings: string[];
}

const ids = (...localparts: string[]) => localparts.map((l) => `@${l}:example.com`);

const cases: Case[] = [
  {
    name: "the fixture configuration: only the malformed hashes",
    mas: {},
    unverifiable: 2,
    byReason: { malformed_hash: { count: 2, examples: ids("user0003", "user0012") } },
    findings: [],
  },
  {
    name: "no rows at all",
    mas: {},
    stats: [],
    unverifiable: 0,
    byReason: {},
    findings: [],
  },
  {
    name: "a wrong pepper: every well-formed migrated hash too",
    mas: schemes({ ...BCRYPT, secret: "other-pepper-456" }, ARGON2),
    unverifiable: 40,
    byReason: {
      malformed_hash: { count: 2, examples: ids("user0003", "user0012") },
      pepper_mismatch: { count: 38, examples: ids("admin", "user0001", "user0002", "user0009", "user0010") },
    },
    findings: ["PEPPER_MISMATCH"],
  },
  {
    name: "no pepper in MAS while Synapse has one",
    mas: schemes({ version: 1, algorithm: "bcrypt", unicode_normalization: true }, ARGON2),
    unverifiable: 40,
    byReason: {
      malformed_hash: { count: 2, examples: ids("user0003", "user0012") },
      pepper_mismatch: { count: 38, examples: ids("admin", "user0001", "user0002", "user0009", "user0010") },
    },
    findings: ["PEPPER_MISMATCH"],
  },
  {
    name: "scheme 1 is argon2id: the bcrypt-looking hashes",
    mas: schemes({ version: 1, algorithm: "argon2id" }, { version: 2, algorithm: "bcrypt", secret: FIXTURE_PEPPER }),
    unverifiable: 42,
    byReason: {
      scheme_not_bcrypt: { count: 39, examples: ids("admin", "user0001", "user0002", "user0003", "user0009") },
      malformed_hash: { count: 3, examples: ids("user0020", "user0021", "user0022") },
    },
    findings: [],
  },
  {
    name: "no scheme for version 2",
    mas: schemes(BCRYPT),
    unverifiable: 5,
    byReason: {
      malformed_hash: { count: 2, examples: ids("user0003", "user0012") },
      no_scheme: { count: 3, examples: ids("user0020", "user0021", "user0022") },
    },
    findings: [],
  },
  {
    name: "passwords disabled: every one",
    mas: { passwords: { enabled: false } },
    unverifiable: 43,
    byReason: {
      passwords_disabled: {
        count: 43,
        examples: ids("admin", "user0001", "user0002", "user0003", "user0009"),
      },
    },
    findings: [],
  },
  {
    name: "no normalisation: not countable, but said",
    mas: schemes({ ...BCRYPT, unicode_normalization: false }, ARGON2),
    unverifiable: 2,
    byReason: { malformed_hash: { count: 2, examples: ids("user0003", "user0012") } },
    findings: ["UNICODE_NORMALIZATION_OFF"],
  },
];

describe("passwordVerifiability", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const [synapse, mas] = await fixturePair(c.mas);
      const result = passwordVerifiability(synapse, mas, c.stats ?? STATS);
      assert.equal(
        result.checked,
        (c.stats ?? STATS).reduce((n, v) => n + v.all.count, 0),
      );
      assert.equal(result.unverifiable, c.unverifiable);
      assert.deepEqual(result.byReason, c.byReason);
      assert.deepEqual(
        result.findings.map((f) => f.code),
        c.findings,
      );
      const text = JSON.stringify(result);
      assert.ok(!text.includes(FIXTURE_PEPPER) && !text.includes("other-pepper-456"), "no pepper in the result");
    });
  }
});
