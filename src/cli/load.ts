/** Turns the shared command-line options into loaded configurations and connection targets. */
import { parsePostgresUri } from "../config/connection.ts";
import { loadMasConfig } from "../config/mas.ts";
import { loadSynapseConfig } from "../config/synapse.ts";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import { parseProviderMappingFlag, providerMap } from "../checks/providers.ts";
import type { MasId } from "../model/ids.ts";
import type { ConnectTarget } from "../pipeline/connect.ts";
import { SqliteFileProblem, sqlitePathFromUri } from "../source/sqlite/files.ts";
import { linkRulesOf } from "../config/link-rules.ts";
import { readLinkFile } from "../config/link-file.ts";
import type { FileLinks, LinkRule } from "../model/link-rule.ts";
import { hintText } from "../errors/hint-form.ts";
import { UserError } from "../errors/user-error.ts";

/** Options every database command takes. */
export interface CommonOptions {
  config: string[];
  synapseConfig: string[];
  synapseDatabaseUri?: string;
  upstreamProviderMapping: string[];
  /** `--link SOURCE=MAS_PROVIDER_ULID[:SUBJECT]` values (absent for commands without the option). */
  link?: string[];
  /** `--link-file FILE.csv` (absent for commands without the option). */
  linkFile?: string;
  /** Total read-only connections to Synapse's database (1 + those that share its snapshot). */
  synapseConnections: string;
}

export interface LoadedSetup {
  synapse: SynapseConfig;
  mas: MasConfig;
  synapseTarget: ConnectTarget;
  masTarget: ConnectTarget;
  providers: Map<string, MasId>;
  links: Map<string, LinkRule>;
  fileLinks?: FileLinks;
  extraSynapseConnections: number;
}

function parseConnections(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 16) {
    throw new UserError(`--synapse-connections ${value} is not a whole number from 1 to 16`, "pass e.g. --synapse-connections 3");
  }
  return n;
}

/** The file a `sqlite:` --synapse-database-uri names, or undefined for another scheme. */
function sqliteUriPath(uri: string): string | undefined {
  try {
    return sqlitePathFromUri(uri);
  } catch (error) {
    if (!(error instanceof SqliteFileProblem)) throw error;
    throw new UserError(`--synapse-database-uri: ${error.message}`, hintText(error.hint));
  }
}

/** Where the Synapse database's settings come from, for the hint of a connection or file error. */
function synapseSettingsSource(synapse: SynapseConfig): string {
  const files = synapse.files.join(", ");
  if (synapse.databaseKey === undefined) {
    // Synapse's own default, so the tool reads what Synapse would; but the operator may not know it.
    return (
      `the directory syn2mas runs in: ${files} has no database section, so Synapse's default homeserver.db there is read; ` +
      "add the database section Synapse runs with, or pass --synapse-database-uri sqlite:///path/to/homeserver.db"
    );
  }
  if (synapse.databaseEngine === "sqlite3") {
    return (
      `${synapse.databaseKey}.args.database in ${files} (a relative path is taken from the directory syn2mas runs in), ` +
      "or pass --synapse-database-uri sqlite:///path/to/homeserver.db"
    );
  }
  return `${synapse.databaseKey}.args in ${files} (or pass --synapse-database-uri)`;
}

/** Loads both configurations (failing with a UserError on any problem) and resolves what to connect to. */
export function loadSetup(options: CommonOptions): LoadedSetup {
  if (options.synapseConfig.length === 0) {
    throw new UserError("no Synapse configuration given", "pass --synapse-config homeserver.yaml (a file or a directory)");
  }
  const synapse = loadSynapseConfig(options.synapseConfig);
  const mas = loadMasConfig(options.config);
  const providers = providerMap(mas, options.upstreamProviderMapping.map(parseProviderMappingFlag));
  const links = linkRulesOf(options.link ?? []);
  const fileLinks = options.linkFile === undefined ? undefined : readLinkFile(options.linkFile);
  let synapseTarget: ConnectTarget;
  const sqliteOverride = options.synapseDatabaseUri === undefined ? undefined : sqliteUriPath(options.synapseDatabaseUri);
  if (sqliteOverride !== undefined) {
    synapse.databaseEngine = "sqlite3";
    synapse.sqlitePath = sqliteOverride;
    synapseTarget = { role: "Synapse", settings: {}, settingsSource: "--synapse-database-uri" };
  } else if (options.synapseDatabaseUri !== undefined) {
    synapse.databaseEngine = "psycopg2";
    synapseTarget = {
      role: "Synapse",
      settings: parsePostgresUri(options.synapseDatabaseUri),
      settingsSource: "--synapse-database-uri",
    };
  } else {
    synapseTarget = { role: "Synapse", settings: synapse.database, settingsSource: synapseSettingsSource(synapse) };
  }
  const masTarget: ConnectTarget = {
    role: "MAS",
    settings: mas.database,
    settingsSource: `database in ${mas.files.join(", ")}`,
  };
  return {
    synapse,
    mas,
    synapseTarget,
    masTarget,
    providers,
    links,
    ...(fileLinks === undefined ? {} : { fileLinks }),
    extraSynapseConnections: parseConnections(options.synapseConnections) - 1,
  };
}
