/**
 * MAS's schema migrations, as facts, and what a MAS database's recorded history of them says.
 *
 * The list: the `version` and `description` of every row that `mas-cli database migrate` of MAS
 * 1.22.0 records in `_sqlx_migrations`, oldest first, read once from the `_sqlx_migrations` data of
 * test/fixtures/mas/mas-v1.22.0-empty.sql (MAS 1.0.0's dump, mas-v1.0.0-empty.sql, holds the 120
 * marked 1.0.0); mas-migrations.test.ts checks that it still equals both dumps. The release that
 * first shipped each migration comes from MAS's own repository: the files under
 * `crates/storage-pg/migrations/` at each release tag from v1.0.0 to v1.22.0 (no release removed
 * one). Releases do not only append: MAS 1.11.0 and 1.20.0 shipped migrations dated before the
 * newest one of the release before them, so a history is checked against whole releases, not
 * against "everything up to its newest version". Add a release's new migrations here when a newer
 * MAS is tested.
 */

/** One MAS migration: sqlx's version (a timestamp), its description, and the first release with it. */
export interface MasMigration {
  version: bigint;
  description: string;
  since: MasRelease;
}

/** The MAS releases that added migrations, oldest first (a release in between has the schema of the one before it). */
export const MAS_RELEASES = [
  "1.0.0",
  "1.3.0",
  "1.5.0",
  "1.8.0",
  "1.10.0",
  "1.11.0",
  "1.15.0",
  "1.19.0",
  "1.20.0",
  "1.22.0",
] as const;
export type MasRelease = (typeof MAS_RELEASES)[number];

const KNOWN: readonly (readonly [bigint, string, MasRelease])[] = [
  [20220530084123n, "jobs workers", "1.0.0"],
  [20221018142001n, "init", "1.0.0"],
  [20221121151402n, "upstream oauth", "1.0.0"],
  [20221213145242n, "password schemes", "1.0.0"],
  [20230408234928n, "add get jobs fn ", "1.0.0"],
  [20230616093555n, "compat admin flag", "1.0.0"],
  [20230621140528n, "upstream oauth claims imports", "1.0.0"],
  [20230626130338n, "oauth clients static", "1.0.0"],
  [20230728154304n, "user lock", "1.0.0"],
  [20230823125247n, "drop apalis push job", "1.0.0"],
  [20230828085439n, "oauth2 clients more fields", "1.0.0"],
  [20230828143553n, "user session authentication source", "1.0.0"],
  [20230829092920n, "oauth2 sessions user id scope list", "1.0.0"],
  [20230829141928n, "user session user agent", "1.0.0"],
  [20230904135550n, "oauth2 client credentials grant", "1.0.0"],
  [20230911091636n, "oauth2 token expiration", "1.0.0"],
  [20230919155444n, "record session last activity", "1.0.0"],
  [20231009142904n, "user can request admin", "1.0.0"],
  [20231116104353n, "upstream oauth overrides", "1.0.0"],
  [20231120110559n, "upstream oauth branding", "1.0.0"],
  [20231207090532n, "oauth device code grant", "1.0.0"],
  [20231208155602n, "oauth clients device code grant", "1.0.0"],
  [20240207100003n, "user terms", "1.0.0"],
  [20240220141353n, "nonunique compat device id", "1.0.0"],
  [20240220150201n, "compat sessions user sessions link", "1.0.0"],
  [20240221164945n, "sessions user agent", "1.0.0"],
  [20240301091201n, "upstream oauth additional parameters", "1.0.0"],
  [20240402084854n, "upstream oauth disabled at", "1.0.0"],
  [20240621080509n, "user recovery", "1.0.0"],
  [20240718075125n, "sessions active index", "1.0.0"],
  [20241004075132n, "queue worker", "1.0.0"],
  [20241004121132n, "queue job", "1.0.0"],
  [20241007160050n, "oidc login hint", "1.0.0"],
  [20241115163340n, "upstream oauth2 response mode", "1.0.0"],
  [20241118115314n, "upstream oauth2 extra query params", "1.0.0"],
  [20241120163320n, "queue job failures", "1.0.0"],
  [20241122130349n, "queue job scheduled", "1.0.0"],
  [20241122133435n, "queue job scheduled index", "1.0.0"],
  [20241124145741n, "upstream oauth userinfo", "1.0.0"],
  [20241125110803n, "queue job recurrent", "1.0.0"],
  [20241129091057n, "upstream oauth2 link account name", "1.0.0"],
  [20241202123523n, "upstream oauth responses alg", "1.0.0"],
  [20241210115428n, "oauth refresh token track next", "1.0.0"],
  [20241210133651n, "oauth2 access token first used", "1.0.0"],
  [20241212154426n, "oauth2 response mode null", "1.0.0"],
  [20241213180524n, "upstream oauth optional issuer", "1.0.0"],
  [20250109105709n, "user email authentication codes", "1.0.0"],
  [20250113102144n, "user registrations", "1.0.0"],
  [20250114135939n, "allow deviceless compat sessions", "1.0.0"],
  [20250115155255n, "cleanup unverified emails", "1.0.0"],
  [20250124151529n, "unsupported threepids table", "1.0.0"],
  [20250129154003n, "compat sessions device name", "1.0.0"],
  [20250130170011n, "user is guest", "1.0.0"],
  [20250225091000n, "dynamic policy data", "1.0.0"],
  [20250311093145n, "user deactivated at", "1.0.0"],
  [20250312094013n, "upstream oauth2 providers order", "1.0.0"],
  [20250317151803n, "upstream oauth session unlinked at", "1.0.0"],
  [20250325102310n, "oauth2 clients hash", "1.0.0"],
  [20250404105103n, "compat sso login browser session", "1.0.0"],
  [20250410000000n, "idx compat access tokens session fk", "1.0.0"],
  [20250410000001n, "idx compat refresh tokens session fk", "1.0.0"],
  [20250410000002n, "idx compat refresh tokens access token fk", "1.0.0"],
  [20250410000003n, "idx compat sessions user fk", "1.0.0"],
  [20250410000004n, "idx compat sessions user session fk", "1.0.0"],
  [20250410000005n, "drop compat sessions user id last active at", "1.0.0"],
  [20250410000006n, "idx compat sso logins session fk", "1.0.0"],
  [20250410000007n, "idx oauth2 access tokens session fk", "1.0.0"],
  [20250410000008n, "idx oauth2 authorization grants session fk", "1.0.0"],
  [20250410000009n, "idx oauth2 authorization grants client fk", "1.0.0"],
  [20250410000010n, "idx oauth2 consents client fk", "1.0.0"],
  [20250410000011n, "idx oauth2 consents user fk", "1.0.0"],
  [20250410000012n, "idx oauth2 device code grants client fk", "1.0.0"],
  [20250410000013n, "idx oauth2 device code grants session fk", "1.0.0"],
  [20250410000014n, "idx oauth2 device code grants user session fk", "1.0.0"],
  [20250410000015n, "idx oauth2 refresh tokens session fk", "1.0.0"],
  [20250410000016n, "idx oauth2 refresh tokens access token fk", "1.0.0"],
  [20250410000017n, "idx oauth2 refresh tokens next refresh token fk", "1.0.0"],
  [20250410000018n, "idx oauth2 sessions user session fk", "1.0.0"],
  [20250410000019n, "idx oauth2 sessions client fk", "1.0.0"],
  [20250410000020n, "idx oauth2 sessions user fk", "1.0.0"],
  [20250410000021n, "drop oauth2 sessions user id last active at", "1.0.0"],
  [20250410000022n, "idx queue jobs started by fk", "1.0.0"],
  [20250410000023n, "idx queue jobs next attempt fk", "1.0.0"],
  [20250410000024n, "idx queue jobs schedule name fk", "1.0.0"],
  [20250410000025n, "idx upstream oauth authorization sessions provider fk", "1.0.0"],
  [20250410000026n, "idx upstream oauth authorization sessions link fk", "1.0.0"],
  [20250410000027n, "idx upstream oauth links provider fk", "1.0.0"],
  [20250410000028n, "idx upstream oauth links user fk", "1.0.0"],
  [20250410000029n, "idx user email authentication codes authentication fk", "1.0.0"],
  [20250410000030n, "idx user email authentications user session fk", "1.0.0"],
  [20250410000031n, "idx user email authentications user registration fk", "1.0.0"],
  [20250410000032n, "idx user emails user fk", "1.0.0"],
  [20250410000033n, "idx user emails email idx", "1.0.0"],
  [20250410000034n, "idx user passwords user fk", "1.0.0"],
  [20250410000035n, "idx user recovery tickets session fk", "1.0.0"],
  [20250410000036n, "idx user recovery tickets user email fk", "1.0.0"],
  [20250410000037n, "idx user registrations email authentication fk", "1.0.0"],
  [20250410000038n, "idx user session authentications user session fk", "1.0.0"],
  [20250410000039n, "idx user session authentications user password fk", "1.0.0"],
  [20250410000040n, "idx user session authentications upstream oauth session fk", "1.0.0"],
  [20250410000041n, "idx user sessions user fk", "1.0.0"],
  [20250410000042n, "drop user sessions user id last active at", "1.0.0"],
  [20250410000043n, "idx user terms user fk", "1.0.0"],
  [20250410000044n, "idx users primary email fk", "1.0.0"],
  [20250410000045n, "idx user recovery tickets ticket idx", "1.0.0"],
  [20250410121612n, "users lower username idx", "1.0.0"],
  [20250410174306n, "oauth2 authorization default requires consent", "1.0.0"],
  [20250424150930n, "oauth2 grants locale", "1.0.0"],
  [20250425113717n, "oauth2 session human name", "1.0.0"],
  [20250506161158n, "upstream oauth2 forward login hint", "1.0.0"],
  [20250507131948n, "upstream oauth session optional nonce", "1.0.0"],
  [20250602212100n, "user registration tokens", "1.0.0"],
  [20250602212101n, "idx user registration token", "1.0.0"],
  [20250602212102n, "upstream oauth2 id token claims", "1.0.0"],
  [20250602212103n, "upstream oauth2 id token claims sub sid index", "1.0.0"],
  [20250602212104n, "upstream oauth2 id token claims sid sub index", "1.0.0"],
  [20250630120643n, "upstream oauth on backchannel logout", "1.0.0"],
  [20250708155857n, "idx user emails lower email", "1.0.0"],
  [20250709142230n, "id token claims trigger", "1.0.0"],
  [20250709142240n, "backfill id token claims", "1.0.0"],
  [20250915092000n, "pgtrgm extension", "1.3.0"],
  [20250915092635n, "users username trgm idx", "1.3.0"],
  [20250924132713n, "personal access tokens", "1.5.0"],
  [20251023134634n, "personal access tokens unique fix", "1.5.0"],
  [20251121145458n, "user registration upstream oauth session", "1.8.0"],
  [20251127145951n, "user registration upstream oauth session idx", "1.8.0"],
  [20260108111542n, "remove apalis", "1.10.0"],
  [20260108120030n, "remove user emails old confirmation", "1.10.0"],
  [20260108121127n, "cleanup oauth2 consents", "1.10.0"],
  [20260108121952n, "cleanup id token claims trigger", "1.10.0"],
  [20260108144040n, "remove deactivated unsupported threepids", "1.11.0"],
  [20260108145240n, "drop oauth2 consents", "1.11.0"],
  [20260108175627n, "oauth access tokens revoked at idx", "1.10.0"],
  [20260109115009n, "oauth access tokens expires at idx", "1.10.0"],
  [20260109172537n, "oauth refresh token revoked at", "1.10.0"],
  [20260109172950n, "oauth refresh token next token set null", "1.10.0"],
  [20260109172954n, "oauth refresh token next token set null validate", "1.10.0"],
  [20260112094550n, "oauth refresh token not consumed idx", "1.10.0"],
  [20260112094837n, "oauth refresh token consumed at idx", "1.10.0"],
  [20260115111313n, "idx compat sessions finished at", "1.10.0"],
  [20260116000002n, "idx upstream oauth links orphaned", "1.10.0"],
  [20260116000003n, "queue jobs next attempt set null", "1.10.0"],
  [20260116000004n, "queue jobs next attempt set null validate", "1.10.0"],
  [20260121103025n, "upstream oauth track user session", "1.10.0"],
  [20260121104214n, "upstream auth user session fk idx", "1.11.0"],
  [20260121112201n, "upstream oauth sessions orphan index", "1.10.0"],
  [20260121121140n, "upstream oauth track user session trigger", "1.11.0"],
  [20260121121150n, "upstream oauth track user session backfill", "1.11.0"],
  [20260122113523n, "compat sessions user session no action", "1.11.0"],
  [20260122114353n, "compat sessions user session validate", "1.11.0"],
  [20260122123211n, "idx oauth2 sessions finished at", "1.11.0"],
  [20260122124231n, "idx user sessions finished at", "1.11.0"],
  [20260123090000n, "idx oauth2 sessions inactive ips", "1.11.0"],
  [20260123090001n, "idx compat sessions inactive ips", "1.11.0"],
  [20260123090002n, "idx user sessions inactive ips", "1.11.0"],
  [20260324000001n, "queue schedules last job set null", "1.15.0"],
  [20260403000001n, "authz grant user session id", "1.22.0"],
  [20260403144138n, "upstream oauth2 providers registration token required", "1.19.0"],
  [20260513103411n, "oauth2 authorization grant raw parameters", "1.20.0"],
  [20260528100001n, "idx oauth2 clients client name trgm", "1.20.0"],
  [20260528100002n, "idx oauth2 clients client uri trgm", "1.20.0"],
  [20260528134948n, "idx oauth2 sessions active user client", "1.20.0"],
  [20260528135303n, "idx compat sessions active user", "1.20.0"],
  [20260529100001n, "idx oauth2 sessions active client", "1.20.0"],
  [20260623100001n, "oauth2 device code grant locale", "1.20.0"],
  [20260716100001n, "upstream oauth links human account name trgm idx", "1.22.0"],
  [20260720134722n, "idx oauth2 authorization grants user session id", "1.22.0"],
];

/** Every migration up to the newest tested MAS release, oldest first. */
export const MAS_MIGRATIONS: readonly MasMigration[] = KNOWN.map(([version, description, since]) => ({
  version,
  description,
  since,
}));

/** Newest MAS migration this tool was tested with. */
export const NEWEST_KNOWN_MAS_MIGRATION: bigint = (MAS_MIGRATIONS[MAS_MIGRATIONS.length - 1] as MasMigration).version;

/** A row of `_sqlx_migrations`: sqlx writes `success = false` for a migration that failed part-way. */
export interface RecordedMigration {
  version: bigint;
  success: boolean;
}

/** What a recorded history says, against the releases. */
export interface MigrationHistory {
  /** The oldest release whose migrations include every recorded known one (1.0.0 when none is recorded). */
  release: MasRelease;
  /** How many migrations `release` has. */
  expected: number;
  /** Migrations of `release` not recorded as succeeded, oldest first: their rows were deleted, or they never ran. */
  missing: MasMigration[];
  /** Versions recorded with `success = false`, oldest first: a migration stopped part-way. */
  failed: bigint[];
  /** Versions recorded as succeeded that no tested release has (a newer MAS), oldest first. */
  unknown: bigint[];
}

/**
 * Compares a MAS database's `_sqlx_migrations` rows with the releases: a database MAS created and
 * kept has exactly the migrations of one release (or of a newer MAS: all of the newest tested
 * release's and more). Anything else is a partial or edited history.
 */
export function readMigrationHistory(recorded: readonly RecordedMigration[]): MigrationHistory {
  const succeeded = new Set(recorded.filter((r) => r.success).map((r) => r.version));
  const knownVersions = new Set(MAS_MIGRATIONS.map((m) => m.version));
  const newestRelease = Math.max(
    0,
    ...MAS_MIGRATIONS.filter((m) => succeeded.has(m.version)).map((m) => MAS_RELEASES.indexOf(m.since)),
  );
  const byVersion = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);
  const ofRelease = MAS_MIGRATIONS.filter((m) => MAS_RELEASES.indexOf(m.since) <= newestRelease);
  return {
    release: MAS_RELEASES[newestRelease] as MasRelease,
    expected: ofRelease.length,
    missing: ofRelease.filter((m) => !succeeded.has(m.version)),
    failed: recorded
      .filter((r) => !r.success)
      .map((r) => r.version)
      .sort(byVersion),
    unknown: [...succeeded].filter((v) => !knownVersions.has(v)).sort(byVersion),
  };
}
