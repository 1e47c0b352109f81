/**
 * Can these users log in? `testPassword` checks one password as Synapse and MAS would, reading
 * both databases read-only; `masPasswordVerifiability` counts the MAS passwords that MAS could not
 * verify under its configuration. Neither returns, logs or throws a password, hash or pepper.
 */
import type pg from "pg";
import { MAX_EXAMPLES } from "../checks/finding.ts";
import {
  passwordVerifiability,
  unverifiableCategories,
  type HashCategory,
  type PasswordVerifiability,
  type PasswordVersionStats,
} from "../checks/password-verifiability.ts";
import { unsupportedDatabase } from "../checks/synapse-config.ts";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import { UserError } from "../errors/user-error.ts";
import { bcryptMatches, exceedsBcryptLimit, nfkcChanges, synapseInput, type BcryptInput } from "../model/password-check.ts";
import { sqlIsUsableBcryptHash } from "../model/password-hash.ts";
import { checkUserId } from "../model/user-id.ts";
import type { RunSetup } from "./connections.ts";
import { withSynapseAndMas } from "./open-source.ts";

export type SynapseVerdict = "accepted" | "refused" | "no_password" | "no_user";
export type MasVerdict =
  | "accepted"
  | "refused"
  | "no_password"
  | "no_user"
  /** The scheme of the password's version is not bcrypt (e.g. argon2id): this tool does not compute it. */
  | "unsupported_scheme"
  /** No scheme in `passwords.schemes` has the password's version: MAS cannot check it. */
  | "no_scheme"
  /** `passwords.enabled: false`: MAS accepts no password. */
  | "passwords_disabled";

/** Why the two sides may disagree for this password, as codes (no secret in them). */
export type PasswordNote =
  /** NFKC changes the password and MAS's scheme does not normalise: MAS computes other bytes than Synapse did. */
  | "mas_does_not_normalize"
  /**
   * Password and pepper exceed bcrypt's 72 bytes. MAS ignores the bytes beyond, and so does Synapse with Python's
   * bcrypt before 5.0; bcrypt 5.0 and later raise an error instead, so such a Synapse refused the login whatever the
   * verdict computed here (which is the truncating one).
   */
  | "beyond_bcrypt_limit";

export interface TestPasswordOutcome {
  /** The full user id that was tested. */
  userId: string;
  synapse: SynapseVerdict;
  mas: MasVerdict;
  /** The version of MAS's current password for the user, and the scheme MAS uses for it, when there is one. */
  masScheme?: { version: number; algorithm: string | undefined };
  notes: PasswordNote[];
}

/** The full user id for `user`: `@local:server` as given, or a bare localpart on this server. */
function fullUserId(user: string, serverName: string): { userId: string; localpart: string } {
  const userId = user.startsWith("@") ? user : `@${user}:${serverName}`;
  const check = checkUserId(userId, serverName);
  if (check.kind === "local") return { userId, localpart: check.localpart };
  const why = check.kind === "foreign" ? `is on ${check.server}, not on ${serverName}` : "is not a well-formed user id";
  throw new UserError(`the user ${JSON.stringify(user)} ${why}`, `give a user of ${serverName}, e.g. @alice:${serverName}`);
}

type Setup = Pick<RunSetup, "synapse" | "mas" | "synapseTarget" | "masTarget">;

/** Says whether Synapse accepted, and MAS would accept, `password` for `user` (a user id or a localpart). */
export async function testPassword(setup: Setup, user: string, password: string): Promise<TestPasswordOutcome> {
  const { userId, localpart } = fullUserId(user, setup.synapse.serverName);
  // Otherwise there is nothing to connect to, and libpq's defaults would reach some other database.
  const [unsupported] = unsupportedDatabase(setup.synapse);
  if (unsupported !== undefined) {
    throw new UserError(
      `Synapse's database.name is "${setup.synapse.databaseEngine}", which this tool cannot read`,
      "correct database.name (psycopg2 or sqlite3), or pass --synapse-database-uri",
    );
  }
  return withSynapseAndMas({ ...setup, extraSynapseConnections: 0 }, async (synapseSide, masDb) => {
    const source = await synapseSide.openSource();
    await masDb.query("BEGIN READ ONLY");
    try {
      const readers = await synapseSide.openReaders();
      let synapseHash: string | null | undefined;
      try {
        const rows = await readers.rows<{ password_hash: string | null }>(
          `SELECT password_hash FROM users WHERE name = ${readers.dialect.param(1)}`,
          [userId],
        );
        synapseHash = rows.length === 0 ? undefined : rows[0]!.password_hash;
      } finally {
        await readers.close();
      }
      const masRow = await currentMasPassword(masDb, localpart);
      return judge(setup.synapse, setup.mas, userId, password, synapseHash, masRow);
    } finally {
      await masDb.query("ROLLBACK").catch(() => undefined);
      await source.close();
    }
  });
}

/** undefined: no such MAS user; null: a user without a password. */
async function currentMasPassword(
  masDb: pg.ClientBase,
  username: string,
): Promise<{ hash: string; version: number } | null | undefined> {
  const users = await masDb.query<{ user_id: string }>("SELECT user_id FROM users WHERE username = $1", [username]);
  if (users.rows.length === 0) return undefined;
  // The password MAS checks at login: the user's latest one.
  const passwords = await masDb.query<{ hashed_password: string; version: number }>(
    "SELECT hashed_password, version FROM user_passwords WHERE user_id = $1 ORDER BY created_at DESC, user_password_id DESC LIMIT 1",
    [users.rows[0]!.user_id],
  );
  const row = passwords.rows[0];
  return row === undefined ? null : { hash: row.hashed_password, version: row.version };
}

/** The verdicts, given what each database holds (undefined: no user; null: no password). */
export async function judge(
  synapse: SynapseConfig,
  mas: MasConfig,
  userId: string,
  password: string,
  synapseHash: string | null | undefined,
  masPassword: { hash: string; version: number } | null | undefined,
): Promise<TestPasswordOutcome> {
  const notes = new Set<PasswordNote>();
  const synapseWay = synapseInput(synapse.pepper);
  let synapseVerdict: SynapseVerdict;
  if (synapseHash === undefined) synapseVerdict = "no_user";
  else if (synapseHash === null || synapseHash === "") synapseVerdict = "no_password";
  else {
    synapseVerdict = (await bcryptMatches(password, synapseHash, synapseWay)) ? "accepted" : "refused";
    if (exceedsBcryptLimit(password, synapseWay)) notes.add("beyond_bcrypt_limit");
  }
  const outcome: TestPasswordOutcome = { userId, synapse: synapseVerdict, mas: "no_user", notes: [] };
  if (masPassword === null) outcome.mas = "no_password";
  else if (masPassword !== undefined) {
    const scheme = mas.passwordSchemes.find((s) => s.version === masPassword.version);
    outcome.masScheme = { version: masPassword.version, algorithm: scheme?.algorithm };
    if (!mas.passwordsEnabled) outcome.mas = "passwords_disabled";
    else if (scheme === undefined) outcome.mas = "no_scheme";
    else if (scheme.algorithm !== "bcrypt") outcome.mas = "unsupported_scheme";
    else {
      const masWay: BcryptInput = { unicodeNormalization: scheme.unicodeNormalization, pepper: scheme.secret };
      outcome.mas = (await bcryptMatches(password, masPassword.hash, masWay)) ? "accepted" : "refused";
      if (!scheme.unicodeNormalization && nfkcChanges(password)) notes.add("mas_does_not_normalize");
      if (exceedsBcryptLimit(password, masWay)) notes.add("beyond_bcrypt_limit");
    }
  }
  outcome.notes = [...notes].sort();
  return outcome;
}

/** Each user's current password (the one MAS checks at login: the latest), with what is known of its hash. */
const CURRENT_PASSWORDS = `
  SELECT p.user_id, p.version,
    COALESCE(${sqlIsUsableBcryptHash("p.hashed_password", "postgres")}, false) AS usable,
    substr(p.hashed_password, 1, 2) = '$2' AS bcrypt_like
  FROM user_passwords p
  WHERE NOT EXISTS (
    SELECT 1 FROM user_passwords later
    WHERE later.user_id = p.user_id
      AND (later.created_at, later.user_password_id) > (p.created_at, p.user_password_id)
  )`;

/** The condition on {@link CURRENT_PASSWORDS}'s columns for each category. */
const CATEGORY_SQL: Record<HashCategory, string> = {
  all: "true",
  usableBcrypt: "usable",
  unusableBcrypt: "NOT usable",
  bcryptLike: "bcrypt_like",
};

/** The counts by version in one pass; examples left empty. */
async function passwordVersionCounts(masDb: pg.ClientBase): Promise<PasswordVersionStats[]> {
  const { rows } = await masDb.query<{ version: number } & Record<HashCategory, string>>(
    `SELECT version, ${Object.entries(CATEGORY_SQL)
      .map(([name, where]) => `count(*) FILTER (WHERE ${where}) AS "${name}"`)
      .join(", ")}
     FROM (${CURRENT_PASSWORDS}) c GROUP BY version ORDER BY version`,
  );
  const none = (count: string) => ({ count: Number(count), examples: [] as string[] });
  return rows.map((r) => ({
    version: r.version,
    all: none(r.all),
    usableBcrypt: none(r.usableBcrypt),
    unusableBcrypt: none(r.unusableBcrypt),
    bcryptLike: none(r.bcryptLike),
  }));
}

/** The first usernames, in byte order, of one version's category (a top-N pass, no full sort). */
async function categoryExamples(masDb: pg.ClientBase, version: number, category: HashCategory): Promise<string[]> {
  const { rows } = await masDb.query<{ username: string }>(
    `SELECT u.username FROM (${CURRENT_PASSWORDS}) c JOIN users u ON u.user_id = c.user_id
     WHERE c.version = $1 AND ${CATEGORY_SQL[category]} ORDER BY u.username COLLATE "C" LIMIT ${MAX_EXAMPLES}`,
    [version],
  );
  return rows.map((r) => r.username);
}

/**
 * How many users' current MAS passwords MAS could not verify under `mas`, by reason, with example
 * user ids. Reads `masDb` as it finds it: the caller owns the (read-only) transaction.
 */
export async function masPasswordVerifiability(
  synapse: SynapseConfig,
  mas: MasConfig,
  masDb: pg.ClientBase,
): Promise<PasswordVerifiability> {
  const versions = await passwordVersionCounts(masDb);
  // Examples only where something is unverifiable: none at all when every password is fine.
  for (const stats of versions) {
    for (const [, category] of unverifiableCategories(synapse, mas, stats.version)) {
      if (stats[category].count > 0) stats[category].examples = await categoryExamples(masDb, stats.version, category);
    }
  }
  return passwordVerifiability(synapse, mas, versions);
}
