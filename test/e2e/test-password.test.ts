/**
 * Can these users log in? testPassword and masPasswordVerifiability on the real fixtures, migrated
 * by the built CLI into a throwaway cluster: each user's password from the manifest, tried as
 * Synapse and MAS check it; the MAS hashes counted under the fixture configuration and edited ones.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { loadSetup } from "../../src/cli/load.ts";
import { masPasswordVerifiability, testPassword, type TestPasswordOutcome } from "../../src/pipeline/test-password.ts";
import { isHintForm } from "../../src/errors/hint-form.ts";
import { UserError } from "../../src/errors/user-error.ts";
import { describeRun } from "../harness/background.ts";
import { FIXTURE_PEPPER, loadSynapseManifest, synapseSqliteDb, synapseSqliteManifest } from "../harness/fixtures.ts";
import { startCluster, type Cluster } from "../harness/postgres.ts";
import { GUESTS_OFF, prepareScenario, runCli, type Scenario } from "../harness/scenario.ts";
import { scratchDir } from "../harness/scratch.ts";
import { copySqliteFixture, prepareSqliteScenario, snapshotFiles } from "../harness/sqlite.ts";
import { writeMasConfig, type ConfigOverrides } from "../harness/temp-config.ts";

const ACCEPT = ["--accept-all-warnings"];
const manifest = await loadSynapseManifest();
const password = (localpart: string): string =>
  manifest.users[localpart]?.password ?? assert.fail(`no password for ${localpart}`);

const BCRYPT_1 = { version: 1, algorithm: "bcrypt", unicode_normalization: true, secret: FIXTURE_PEPPER };
const ARGON2_2 = { version: 2, algorithm: "argon2id" };
const schemes = (...list: Record<string, unknown>[]): ConfigOverrides => ({ passwords: { enabled: true, schemes: list } });

/** The scenario's setup, as the CLI loads it, optionally with another MAS configuration. */
async function setupOf(s: Scenario, cluster: Cluster, mas?: ConfigOverrides) {
  const masConfig =
    mas === undefined
      ? s.masConfig
      : await writeMasConfig(scratchDir("syn2mas-pw-mas-"), { uri: cluster.uri(s.masDb), overrides: mas });
  return loadSetup({
    config: [masConfig],
    synapseConfig: [s.synapseConfig],
    upstreamProviderMapping: [],
    synapseConnections: "1",
  });
}

/** Every hash the two databases hold for `userIds`, to show that none is in a result. */
async function hashesOf(cluster: Cluster, s: Scenario): Promise<string[]> {
  const synapse = await cluster.sql<{ h: string }>(s.synapseDb, "SELECT password_hash AS h FROM users WHERE password_hash <> ''");
  const mas = await cluster.sql<{ h: string }>(s.masDb, "SELECT hashed_password AS h FROM user_passwords");
  return [...synapse, ...mas].map((r) => r.h);
}

function assertNoSecret(outcome: unknown, secrets: readonly string[]): void {
  const text = JSON.stringify(outcome);
  for (const secret of secrets) assert.ok(!text.includes(secret), "a password, hash or pepper is in the result");
}

async function withMasReadOnly<T>(cluster: Cluster, db: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: cluster.uri(db) });
  await client.connect();
  try {
    await client.query("BEGIN READ ONLY");
    return await work(client);
  } finally {
    await client.query("ROLLBACK").catch(() => undefined);
    await client.end();
  }
}

describe("can these users log in (PostgreSQL fixture, migrated)", () => {
  let cluster: Cluster;
  let s: Scenario;
  let hashes: string[];

  before(async () => {
    cluster = await startCluster();
    s = await prepareScenario(cluster, "test_password", { synapseOverrides: GUESTS_OFF });
    const result = await runCli(["migrate", ...s.configArgs, ...ACCEPT, "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    hashes = await hashesOf(cluster, s);
  });
  after(async () => {
    await cluster?.stop();
  });

  interface Case {
    name: string;
    user: string;
    tried: string;
    mas?: ConfigOverrides;
    expected: Omit<TestPasswordOutcome, "userId"> & { userId?: string };
  }
  const scheme1 = { version: 1, algorithm: "bcrypt" };
  const cases: Case[] = [
    {
      name: "the right ASCII password",
      user: "@user0010:example.com",
      tried: password("user0010"),
      expected: { synapse: "accepted", mas: "accepted", masScheme: scheme1, notes: [] },
    },
    {
      name: "a wrong password",
      user: "@user0010:example.com",
      tried: "correct horse battery staple-11",
      expected: { synapse: "refused", mas: "refused", masScheme: scheme1, notes: [] },
    },
    {
      name: "the right non-ASCII password (Ω), by localpart",
      user: "admin",
      tried: password("admin"),
      expected: { userId: "@admin:example.com", synapse: "accepted", mas: "accepted", masScheme: scheme1, notes: [] },
    },
    {
      name: "the ﬁ ligature password, and typed as f + i",
      user: "@user0018:example.com",
      tried: "fi-ligature-18",
      expected: { synapse: "accepted", mas: "accepted", masScheme: scheme1, notes: [] },
    },
    {
      name: "Å typed decomposed (A + combining ring)",
      user: "@user0001:example.com",
      tried: "A\u030a-angstrom-1",
      expected: { synapse: "accepted", mas: "accepted", masScheme: scheme1, notes: [] },
    },
    {
      name: "fullwidth letters, MAS without unicode_normalization: locked out of MAS only",
      user: "@user0016:example.com",
      tried: password("user0016"),
      mas: schemes({ ...BCRYPT_1, unicode_normalization: false }, ARGON2_2),
      expected: { synapse: "accepted", mas: "refused", masScheme: scheme1, notes: ["mas_does_not_normalize"] },
    },
    {
      name: "an emoji password, MAS without unicode_normalization: NFKC leaves it alone",
      user: "@user0002:example.com",
      tried: password("user0002"),
      mas: schemes({ ...BCRYPT_1, unicode_normalization: false }, ARGON2_2),
      expected: { synapse: "accepted", mas: "accepted", masScheme: scheme1, notes: [] },
    },
    {
      name: "MAS with another pepper",
      user: "@user0010:example.com",
      tried: password("user0010"),
      mas: schemes({ ...BCRYPT_1, secret: "other-pepper-456" }, ARGON2_2),
      expected: { synapse: "accepted", mas: "refused", masScheme: scheme1, notes: [] },
    },
    {
      name: "MAS's scheme 1 is argon2id: not guessed",
      user: "@user0010:example.com",
      tried: password("user0010"),
      mas: schemes({ version: 1, algorithm: "argon2id" }),
      expected: { synapse: "accepted", mas: "unsupported_scheme", masScheme: { version: 1, algorithm: "argon2id" }, notes: [] },
    },
    {
      name: "MAS has no scheme 1",
      user: "@user0010:example.com",
      tried: password("user0010"),
      mas: schemes({ version: 2, algorithm: "argon2id" }),
      expected: { synapse: "accepted", mas: "no_scheme", masScheme: { version: 1, algorithm: undefined }, notes: [] },
    },
    {
      name: "a deactivated user (Synapse cleared the hash, so nothing was migrated)",
      user: "@user0003:example.com",
      tried: password("user0003"),
      expected: { synapse: "no_password", mas: "no_password", notes: [] },
    },
    {
      name: "an SSO-only user",
      user: "@ssoonly1:example.com",
      tried: "anything",
      expected: { synapse: "no_password", mas: "no_password", notes: [] },
    },
    {
      name: "an unknown user",
      user: "@nobody:example.com",
      tried: "anything",
      expected: { synapse: "no_user", mas: "no_user", notes: [] },
    },
  ];

  for (const c of cases) {
    it(`${c.name}: Synapse ${c.expected.synapse}, MAS ${c.expected.mas}`, async () => {
      const setup = await setupOf(s, cluster, c.mas);
      const outcome = await testPassword(setup, c.user, c.tried);
      const expected = { userId: c.user, ...c.expected };
      if (expected.masScheme === undefined) delete expected.masScheme;
      assert.deepEqual(outcome, expected);
      assertNoSecret(outcome, [c.tried, FIXTURE_PEPPER, "other-pepper-456", ...hashes]);
    });
  }

  it("refuses a user of another server, naming it, without a password in the message", async () => {
    const setup = await setupOf(s, cluster);
    await assert.rejects(testPassword(setup, "@user0010:elsewhere.org", "secret-xyz"), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /is on elsewhere\.org, not on example\.com/);
      assert.ok(!error.message.includes("secret-xyz"));
      assert.ok(isHintForm(error.hint));
      return true;
    });
  });

  it("refuses a Synapse database it cannot read, before connecting anywhere", async () => {
    const setup = await setupOf(s, cluster);
    setup.synapse.databaseEngine = "mysql";
    await assert.rejects(testPassword(setup, "@user0010:example.com", "secret-xyz"), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.message, `Synapse's database.name is "mysql", which this tool cannot read`);
      assert.ok(isHintForm(error.hint));
      return true;
    });
  });

  it("tests MAS's latest password: after a change to argon2id (version 2), says unsupported_scheme", async () => {
    const t = await prepareScenario(cluster, "test_password_changed", { synapseOverrides: GUESTS_OFF });
    const result = await runCli(["migrate", ...t.configArgs, ...ACCEPT, "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    await cluster.sql(
      t.masDb,
      `INSERT INTO user_passwords (user_password_id, user_id, hashed_password, created_at, version)
       SELECT gen_random_uuid(), p.user_id, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo', p.created_at + interval '1 day', 2
       FROM user_passwords p JOIN users u USING (user_id) WHERE u.username = 'user0010'`,
    );
    const outcome = await testPassword(await setupOf(t, cluster), "@user0010:example.com", password("user0010"));
    assert.deepEqual(outcome, {
      userId: "@user0010:example.com",
      synapse: "accepted",
      mas: "unsupported_scheme",
      masScheme: { version: 2, algorithm: "argon2id" },
      notes: [],
    });
    // The count reads the same latest row: an argon2id hash under scheme 2 is MAS's own, not a bcrypt one.
    const setup = await setupOf(t, cluster);
    const counted = await withMasReadOnly(cluster, t.masDb, (db) => masPasswordVerifiability(setup.synapse, setup.mas, db));
    assert.deepEqual([counted.checked, counted.unverifiable], [CHECKED, 0]);
    const noScheme2 = await setupOf(t, cluster, schemes(BCRYPT_1));
    const without = await withMasReadOnly(cluster, t.masDb, (db) =>
      masPasswordVerifiability(noScheme2.synapse, noScheme2.mas, db),
    );
    assert.deepEqual(without.byReason, { no_scheme: { count: 1, examples: ["@user0010:example.com"] } });
  });

  it("leaves both databases as they were", async () => {
    const synapseBefore = await cluster.dump(s.synapseDb);
    const masBefore = await cluster.dump(s.masDb);
    await testPassword(await setupOf(s, cluster), "@user0001:example.com", password("user0001"));
    assert.equal(await cluster.dump(s.synapseDb), synapseBefore);
    assert.equal(await cluster.dump(s.masDb), masBefore);
  });

  describe("masPasswordVerifiability", () => {
    it("under the fixture configuration: every migrated password verifiable", async () => {
      const setup = await setupOf(s, cluster);
      const [row] = await cluster.sql<{ n: string }>(s.masDb, "SELECT count(DISTINCT user_id) AS n FROM user_passwords");
      const result = await withMasReadOnly(cluster, s.masDb, (db) => masPasswordVerifiability(setup.synapse, setup.mas, db));
      assert.equal(result.checked, Number(row?.n));
      assert.equal(result.checked, CHECKED);
      assert.equal(result.unverifiable, 0);
      assert.deepEqual(result.byReason, {});
      assert.deepEqual(result.findings, []);
    });

    it("a tampered hash and a wrong pepper", async () => {
      const t = await prepareScenario(cluster, "verifiability_tampered", { synapseOverrides: GUESTS_OFF });
      const result = await runCli(["migrate", ...t.configArgs, ...ACCEPT, "--json"]);
      assert.equal(result.code, 0, describeRun(result));
      await cluster.sql(
        t.masDb,
        `UPDATE user_passwords SET hashed_password = substr(hashed_password, 1, 59)
         WHERE user_id = (SELECT user_id FROM users WHERE username = 'user0012')`,
      );
      const tampered = await hashesOf(cluster, t);
      const setup = await setupOf(t, cluster);
      const counted = await withMasReadOnly(cluster, t.masDb, (db) => masPasswordVerifiability(setup.synapse, setup.mas, db));
      assert.equal(counted.checked, CHECKED);
      assert.equal(counted.unverifiable, 1);
      assert.deepEqual(counted.byReason, { malformed_hash: { count: 1, examples: ["@user0012:example.com"] } });

      const wrong = await setupOf(t, cluster, schemes({ ...BCRYPT_1, secret: "other-pepper-456" }, ARGON2_2));
      const peppered = await withMasReadOnly(cluster, t.masDb, (db) => masPasswordVerifiability(wrong.synapse, wrong.mas, db));
      assert.equal(peppered.unverifiable, CHECKED);
      assert.equal(peppered.byReason.malformed_hash?.count, 1);
      assert.equal(peppered.byReason.pepper_mismatch?.count, CHECKED - 1);
      assert.deepEqual(peppered.byReason.pepper_mismatch?.examples, PEPPER_EXAMPLES);
      assert.deepEqual(
        peppered.findings.map((f) => f.code),
        ["PEPPER_MISMATCH"],
      );
      assertNoSecret([counted, peppered], [FIXTURE_PEPPER, "other-pepper-456", ...tampered]);
    });
  });
});

/** Users with a password in MAS after migrating the PostgreSQL fixture, and the first five in byte order. */
const CHECKED = 38;
const PEPPER_EXAMPLES = [
  "@admin:example.com",
  "@user0001:example.com",
  "@user0002:example.com",
  "@user0006:example.com",
  "@user0007:example.com",
];

describe("can these users log in (SQLite fixture, migrated)", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  it("accepts the right non-ASCII password and refuses a wrong one, reading the SQLite file unchanged", async () => {
    const sqliteManifest = await loadSynapseManifest(synapseSqliteManifest);
    const db = copySqliteFixture(synapseSqliteDb, scratchDir("syn2mas-pw-sqlite-"));
    const s = await prepareSqliteScenario(cluster, "test_password_sqlite", db, { synapseOverrides: GUESTS_OFF });
    const result = await runCli(["migrate", ...s.configArgs, ...ACCEPT, "--json"]);
    assert.equal(result.code, 0, describeRun(result));
    const files = snapshotFiles(db);
    const setup = await setupOf(s, cluster);
    const right = sqliteManifest.users["user0001"]?.password;
    assert.equal(right, "\ufb01-ligature-1");
    const scheme1 = { version: 1, algorithm: "bcrypt" };
    assert.deepEqual(await testPassword(setup, "@user0001:example.com", right), {
      userId: "@user0001:example.com",
      synapse: "accepted",
      mas: "accepted",
      masScheme: scheme1,
      notes: [],
    });
    assert.deepEqual(await testPassword(setup, "user0001", "fi-ligature-2"), {
      userId: "@user0001:example.com",
      synapse: "refused",
      mas: "refused",
      masScheme: scheme1,
      notes: [],
    });
    assert.deepEqual(snapshotFiles(db), files);
  });
});
