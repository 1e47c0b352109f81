/** Loading Synapse's homeserver.yaml (files or directories of them, read as Synapse reads them) into a SynapseConfig. */
import { UserError } from "../errors/user-error.ts";
import { isSslMode, SSL_MODES } from "./connection.ts";
import type { PgConnectionSettings, SynapseConfig, SynapseOidcProvider } from "./types.ts";
import {
  ConfigView,
  describeKind,
  expandConfigPaths,
  formatKey,
  readYamlMapping,
  withoutUndefined,
  type KeyPath,
  type Mapping,
  type SourceHints,
} from "./yaml-source.ts";

const HINTS: SourceHints = {
  file: "pass Synapse's configuration with --synapse-config (a file or a directory of *.yaml files), as given to Synapse with -c",
  key: "correct this key in the Synapse configuration (see Synapse's configuration manual): Synapse itself would refuse or misread it",
};

/** Synapse's database file when the configuration has no `database` section. */
const DEFAULT_SQLITE_PATH = "homeserver.db";

/**
 * Loads Synapse's configuration. Each path is a file or a directory (its `*.yaml` files, in name order);
 * a later file's top-level key replaces the earlier value whole, as in Synapse. Unknown keys are ignored
 * and empty sections count as unset.
 * @throws UserError naming the file and key for a missing or malformed file, a missing `server_name`,
 *   or a key of the wrong type; messages never contain secret values.
 */
export function loadSynapseConfig(paths: string[]): SynapseConfig {
  const files = expandConfigPaths(paths, HINTS);
  if (files.length === 0) {
    const problem = paths.length === 0 ? "no Synapse configuration given" : `${paths.join(", ")}: no *.yaml file found`;
    throw new UserError(problem, HINTS.file);
  }
  const raw: Mapping = {};
  const origins = new Map<string, string>();
  for (const file of files) {
    for (const [key, value] of Object.entries(readYamlMapping(file, "1.1", HINTS))) {
      if (key === "__proto__") continue; // not a Synapse key, and assigning it would replace the prototype
      raw[key] = value;
      origins.set(key, file);
    }
  }
  const view = new ConfigView(raw, origins, HINTS, files.join(", "));
  return {
    files,
    serverName: readServerName(view),
    ...readDatabase(view),
    ...readPasswordConfig(view),
    bcryptRounds: view.integer(["bcrypt_rounds"], 4, 31),
    oidcProviders: readOidcProviders(view),
    ...withoutUndefined({ authDelegation: readAuthDelegation(view) }),
    raw,
  };
}

/** Whether Synapse delegates authentication to MAS; `enabled` must be a boolean, as Synapse requires (StrictBool). */
function readAuthDelegation(view: ConfigView): SynapseConfig["authDelegation"] {
  view.mapping(["matrix_authentication_service"]);
  if (view.boolean(["matrix_authentication_service", "enabled"]) === true) return "matrix_authentication_service";
  view.mapping(["experimental_features"]);
  view.mapping(["experimental_features", "msc3861"]);
  if (view.boolean(["experimental_features", "msc3861", "enabled"]) === true) return "experimental_features.msc3861";
  return undefined;
}

function readServerName(view: ConfigView): string {
  const name = view.string(["server_name"]);
  if (name === undefined || name.trim() === "") {
    return view.fail(
      ["server_name"],
      "is missing or empty; Synapse requires it",
      "set server_name to the homeserver's name, as Synapse runs with it",
    );
  }
  return name;
}

type DatabasePart = Pick<SynapseConfig, "databaseEngine" | "database" | "sqlitePath" | "databaseKey">;

/** The section describing the main database: `database`, or the `databases` entry holding the `main` store. */
function databaseSection(view: ConfigView): KeyPath | undefined {
  const single = view.mapping(["database"]);
  const multi = view.mapping(["databases"]);
  if (single !== undefined && multi !== undefined) {
    view.fail(["databases"], "cannot be used together with database; Synapse refuses both");
  }
  if (single !== undefined) return ["database"];
  if (multi === undefined) return undefined;
  for (const name of Object.keys(multi)) {
    view.mapping(["databases", name]);
    if ((view.list(["databases", name, "data_stores"]) ?? []).includes("main")) return ["databases", name];
  }
  return view.fail(["databases"], "has no entry whose data_stores includes main");
}

function readDatabase(view: ConfigView): DatabasePart {
  const section = databaseSection(view);
  if (section === undefined) return { databaseEngine: "sqlite3", database: {}, sqlitePath: DEFAULT_SQLITE_PATH };
  const databaseKey = formatKey(section);
  const engine = view.string([...section, "name"]);
  if (engine === undefined) return view.fail([...section, "name"], "is missing; it must be psycopg2 or sqlite3");
  const args: KeyPath = [...section, "args"];
  view.mapping(args);
  if (engine === "psycopg2")
    return { databaseEngine: engine, database: libpqSettings(view, args), sqlitePath: undefined, databaseKey };
  if (engine === "sqlite3") {
    return {
      databaseEngine: engine,
      database: {},
      sqlitePath: view.text([...args, "database"]) ?? DEFAULT_SQLITE_PATH,
      databaseKey,
    };
  }
  // Left for the checks to report as unsupported.
  return { databaseEngine: engine, database: {}, sqlitePath: undefined, databaseKey };
}

/** libpq keywords from psycopg2's `args`; pool sizes and other keys are not connection settings. */
function libpqSettings(view: ConfigView, args: KeyPath): PgConnectionSettings {
  // libpq treats an empty value as unset, so `password: ""` falls back to PGPASSWORD / .pgpass.
  const get = (name: string): string | undefined => view.text([...args, name]) || undefined;
  const dbname = get("dbname");
  const database = get("database");
  if (dbname !== undefined && database !== undefined && dbname !== database) {
    view.fail([...args, "database"], "conflicts with dbname; psycopg2 refuses both", "keep only dbname");
  }
  const sslmode = get("sslmode");
  if (sslmode !== undefined && !isSslMode(sslmode)) view.fail([...args, "sslmode"], `must be one of ${SSL_MODES.join(", ")}`);
  return withoutUndefined({
    host: get("host"),
    port: view.integer([...args, "port"], 1, 65535, true),
    user: get("user"),
    password: get("password"),
    database: dbname ?? database,
    sslmode,
    sslrootcert: get("sslrootcert"),
    sslcert: get("sslcert"),
    sslkey: get("sslkey"),
    options: get("options"),
  });
}

type PasswordPart = Pick<SynapseConfig, "passwordsEnabled" | "localdbEnabled" | "pepper">;

function readPasswordConfig(view: ConfigView): PasswordPart {
  const at: KeyPath = ["password_config"];
  view.mapping(at);
  return {
    passwordsEnabled: readPasswordsEnabled(view, [...at, "enabled"]),
    localdbEnabled: view.boolean([...at, "localdb_enabled"]) ?? true,
    // Synapse's default pepper is "", which means none.
    pepper: view.string([...at, "pepper"]) || undefined,
  };
}

function readPasswordsEnabled(view: ConfigView, key: KeyPath): boolean | "only_for_reauth" {
  const value = view.value(key);
  if (value === "only_for_reauth" || typeof value === "boolean") return value;
  if (value === undefined || value === null) return true;
  return view.fail(key, `must be true, false or only_for_reauth, not ${describeKind(value)}`);
}

function readOidcProviders(view: ConfigView): SynapseOidcProvider[] {
  const list = view.list(["oidc_providers"]) ?? [];
  const providers = list.map((_, i) => readOidcProvider(view, ["oidc_providers", i]));
  // Synapse reads the legacy section after the list, and only when it says `enabled: true`.
  if (view.mapping(["oidc_config"]) !== undefined && view.boolean(["oidc_config", "enabled"]) === true) {
    providers.push(readOidcProvider(view, ["oidc_config"]));
  }
  const seen = new Set<string>();
  for (const p of providers) {
    if (seen.has(p.authProviderId)) {
      view.fail(
        ["oidc_providers"],
        `has two providers with the id ${p.authProviderId}; Synapse refuses this`,
        "give each OIDC provider a distinct idp_id",
      );
    }
    seen.add(p.authProviderId);
  }
  return providers;
}

function readOidcProvider(view: ConfigView, at: KeyPath): SynapseOidcProvider {
  const raw = view.mapping(at);
  if (raw === undefined) return view.fail(at, "must be a mapping, not empty");
  const idpId = view.string([...at, "idp_id"]);
  if (idpId !== undefined && !/^[a-z][a-z0-9._-]*$/.test(idpId)) {
    view.fail([...at, "idp_id"], 'must start with a-z and contain only a-z, 0-9, "-", "." and "_", as Synapse requires');
  }
  // Synapse's rule for user_external_ids.auth_provider: "oidc" is kept as is, anything else is prefixed.
  const authProviderId = idpId === undefined || idpId === "oidc" ? "oidc" : `oidc-${idpId}`;
  return { authProviderId, idpId, raw };
}
