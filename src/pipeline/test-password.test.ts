/** judge: the verdicts of testPassword, given what each database holds (the databases themselves: test/e2e/test-password.test.ts). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeMasConfig, writeSynapseConfig, type ConfigOverrides } from "../../test/harness/temp-config.ts";
import { scratchDir } from "../../test/harness/scratch.ts";
import { FIXTURE_PEPPER } from "../../test/harness/fixtures.ts";
import { loadMasConfig } from "../config/mas.ts";
import { loadSynapseConfig } from "../config/synapse.ts";
import { bcryptHash, synapseInput } from "../model/password-check.ts";
import { judge, type TestPasswordOutcome } from "./test-password.ts";

const USER = "@alice:example.com";
const BCRYPT_1 = { version: 1, algorithm: "bcrypt", unicode_normalization: true, secret: FIXTURE_PEPPER };
const ARGON2_2 = { version: 2, algorithm: "argon2id" };

async function configs(mas: ConfigOverrides = {}) {
  const dir = scratchDir("syn2mas-judge-");
  const synapseFile = await writeSynapseConfig(dir, { overrides: { allow_guest_access: false } });
  const masFile = await writeMasConfig(dir, { uri: "postgresql://postgres@127.0.0.1:5432/mas", overrides: mas });
  return { synapse: loadSynapseConfig([synapseFile]), mas: loadMasConfig([masFile]) };
}

interface Case {
  name: string;
  /** The password both databases hold a hash of (hashed as Synapse does), or the stored values themselves. */
  stored: string | { synapse: string | null | undefined; mas: { hash: string; version: number } | null | undefined };
  tried: string;
  mas?: ConfigOverrides;
  expected: Omit<TestPasswordOutcome, "userId">;
}

const SCHEME_1 = { version: 1, algorithm: "bcrypt" };
const cases: Case[] = [
  {
    name: "right",
    stored: "hunter2-ü",
    tried: "hunter2-ü",
    expected: { synapse: "accepted", mas: "accepted", masScheme: SCHEME_1, notes: [] },
  },
  {
    name: "wrong",
    stored: "hunter2-ü",
    tried: "hunter2-u",
    expected: { synapse: "refused", mas: "refused", masScheme: SCHEME_1, notes: [] },
  },
  {
    name: "the Ångström sign, which NFKC makes Å, with MAS not normalising",
    stored: "\u00c5-x",
    tried: "\u212b-x",
    mas: { passwords: { enabled: true, schemes: [{ ...BCRYPT_1, unicode_normalization: false }, ARGON2_2] } },
    expected: { synapse: "accepted", mas: "refused", masScheme: SCHEME_1, notes: ["mas_does_not_normalize"] },
  },
  {
    name: "60 bytes and the 18-byte pepper: beyond bcrypt's 72, only the first 72 count",
    stored: "z".repeat(60),
    tried: `${"z".repeat(60)}`,
    expected: { synapse: "accepted", mas: "accepted", masScheme: SCHEME_1, notes: ["beyond_bcrypt_limit"] },
  },
  {
    name: "beyond 72 bytes, another ending is accepted too (bcrypt never reads it)",
    stored: "z".repeat(72),
    tried: `${"z".repeat(72)}-anything`,
    expected: { synapse: "accepted", mas: "accepted", masScheme: SCHEME_1, notes: ["beyond_bcrypt_limit"] },
  },
  {
    name: "passwords disabled in MAS",
    stored: "pw-xyz",
    tried: "pw-xyz",
    mas: { passwords: { enabled: false, schemes: [BCRYPT_1, ARGON2_2] } },
    expected: { synapse: "accepted", mas: "passwords_disabled", masScheme: SCHEME_1, notes: [] },
  },
  {
    name: "an empty Synapse hash and a malformed MAS hash",
    stored: { synapse: "", mas: { hash: "$2b$12$tooShort", version: 1 } },
    tried: "pw-xyz",
    expected: { synapse: "no_password", mas: "refused", masScheme: SCHEME_1, notes: [] },
  },
  {
    name: "no Synapse user, a MAS user without a password",
    stored: { synapse: undefined, mas: null },
    tried: "pw-xyz",
    expected: { synapse: "no_user", mas: "no_password", notes: [] },
  },
];

describe("judge", () => {
  for (const c of cases) {
    it(`${c.name}: Synapse ${c.expected.synapse}, MAS ${c.expected.mas}`, async () => {
      const { synapse, mas } = await configs(c.mas);
      let synapseHash: string | null | undefined;
      let masPassword: { hash: string; version: number } | null | undefined;
      if (typeof c.stored === "string") {
        synapseHash = await bcryptHash(c.stored, synapseInput(FIXTURE_PEPPER));
        masPassword = { hash: synapseHash, version: 1 };
      } else {
        synapseHash = c.stored.synapse;
        masPassword = c.stored.mas;
      }
      const outcome = await judge(synapse, mas, USER, c.tried, synapseHash, masPassword);
      assert.deepEqual(outcome, { userId: USER, ...c.expected });
      const text = JSON.stringify(outcome);
      const secrets = [c.tried, FIXTURE_PEPPER, synapseHash ?? "", masPassword?.hash ?? ""].filter((s) => s !== "");
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), "a secret is in the outcome");
      }
    });
  }
});
