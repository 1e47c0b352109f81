/** Loading MAS's config.yaml (one or more files, merged as MAS merges them) into a MasConfig. */
import path from "node:path";
import { UserError } from "../errors/user-error.ts";
import { isSslMode, parsePostgresUri, SSL_MODES } from "./connection.ts";
import type { MasConfig, MasPasswordScheme, MasUpstreamProvider, PgConnectionSettings } from "./types.ts";
import { ulidTextToUuid } from "../model/ids.ts";
import {
  ConfigView,
  describeKind,
  formatKey,
  isMapping,
  readTextFile,
  readYamlMapping,
  withoutUndefined,
  type KeyPath,
  type Mapping,
  type SourceHints,
} from "./yaml-source.ts";

const HINTS: SourceHints = {
  file: "pass MAS's configuration with --config (repeat it for several files), the same files mas-cli uses",
  key: "correct this key in the MAS configuration (see MAS's configuration reference): MAS itself would refuse it",
};

const ALGORITHMS = ["bcrypt", "argon2id", "pbkdf2"];
const SPLIT_DB_FIELDS = ["host", "port", "socket", "username", "password", "password_file", "database"];

/**
 * Loads MAS's configuration from `paths`, or from `MAS_CONFIG` (colon-separated) when `paths` is empty.
 * Files are merged as MAS does: mappings deep-merged, lists appended, later scalars winning.
 * @throws UserError naming the file and key for a missing or malformed file, a key of the wrong type,
 *   or an unreadable `secret_file`; messages never contain secret values.
 */
export function loadMasConfig(paths: string[]): MasConfig {
  const files = resolvePaths(paths);
  const raw: Mapping = {};
  const origins = new Map<string, string>();
  for (const file of files) mergeInto(raw, readYamlMapping(file, "1.2", HINTS), [], file, origins);
  const view = new ConfigView(raw, origins, HINTS, files.join(", "));
  view.mapping(["matrix"]);
  return {
    files,
    database: readDatabase(view),
    homeserver: view.string(["matrix", "homeserver"]),
    endpoint: view.string(["matrix", "endpoint"]),
    ...readPasswords(view),
    upstreamProviders: readUpstreamProviders(view),
    ...readOptionalFeatures(view),
    raw,
  };
}

/** Settings MAS may leave unset; absent keys stay absent. */
function readOptionalFeatures(view: ConfigView): Pick<MasConfig, "captchaService" | "tosUri"> {
  view.mapping(["captcha"]);
  view.mapping(["branding"]);
  return withoutUndefined({ captchaService: view.string(["captcha", "service"]), tosUri: view.string(["branding", "tos_uri"]) });
}

function resolvePaths(paths: readonly string[]): string[] {
  if (paths.length > 0) return [...paths];
  const fromEnv = (process.env["MAS_CONFIG"] ?? "").split(":").filter((p) => p !== "");
  if (fromEnv.length === 0) {
    throw new UserError(
      "no MAS configuration given",
      "pass MAS's configuration file with --config (or set MAS_CONFIG to a colon-separated list of files)",
    );
  }
  return fromEnv;
}

function recordOrigins(value: unknown, at: KeyPath, file: string, origins: Map<string, string>): void {
  origins.set(formatKey(at), file);
  if (Array.isArray(value)) value.forEach((item, i) => recordOrigins(item, [...at, i], file, origins));
  else if (isMapping(value)) for (const [k, v] of Object.entries(value)) recordOrigins(v, [...at, k], file, origins);
}

/** Figment's `admerge`, which MAS uses: later values win, mappings merge, lists are appended. */
function mergeInto(target: Mapping, source: Mapping, at: KeyPath, file: string, origins: Map<string, string>): void {
  for (const [key, incoming] of Object.entries(source)) {
    if (key === "__proto__") continue; // not a MAS key, and assigning it would replace the prototype
    const here = [...at, key];
    const current = target[key];
    if (isMapping(current) && isMapping(incoming)) {
      mergeInto(current, incoming, here, file, origins);
    } else if (Array.isArray(current) && Array.isArray(incoming)) {
      incoming.forEach((item, i) => recordOrigins(item, [...here, current.length + i], file, origins));
      current.push(...incoming);
    } else if (!(incoming === null && current !== undefined)) {
      target[key] = incoming;
      recordOrigins(incoming, here, file, origins);
    }
  }
}

function readDatabase(view: ConfigView): PgConnectionSettings {
  const db = ["database"];
  view.mapping(db);
  const uri = view.string([...db, "uri"]);
  const split = SPLIT_DB_FIELDS.filter((f) => view.value([...db, f]) != null);
  if (uri !== undefined && split.length > 0) {
    view.fail(
      [...db, "uri"],
      `cannot be combined with database.${split[0]}; MAS refuses both`,
      "keep either database.uri or the separate fields",
    );
  }
  const settings =
    uri !== undefined ? parsePostgresUri(uri, `${view.fileOf([...db, "uri"])}: database.uri`) : splitFields(view, db);
  return withoutUndefined({ ...settings, ...sslFields(view, db) });
}

function splitFields(view: ConfigView, db: KeyPath): PgConnectionSettings {
  const k = (name: string): KeyPath => [...db, name];
  if (view.value(k("password")) != null && view.value(k("password_file")) != null) {
    view.fail(k("password_file"), "cannot be combined with database.password; MAS refuses both");
  }
  const passwordFile = view.string(k("password_file"));
  const socket = socketLocation(view.string(k("socket")));
  return {
    // MAS (sqlx) prefers the socket over the host when both are set.
    host: socket?.dir ?? view.string(k("host")),
    port: view.integer(k("port"), 1, 65535) ?? socket?.port,
    user: view.string(k("username")),
    password:
      passwordFile === undefined
        ? view.text(k("password"))
        : readTextFile(passwordFile, HINTS.key, `${view.fileOf(k("password_file"))}: database.password_file`).replace(
            /\r?\n$/,
            "",
          ),
    database: view.string(k("database")),
  };
}

/** MAS's `socket` is the socket directory; a path to the socket file itself also carries the port. */
function socketLocation(socket: string | undefined): { dir: string; port?: number } | undefined {
  if (socket === undefined) return undefined;
  const match = /^\.s\.PGSQL\.(\d+)$/.exec(path.basename(socket));
  return match?.[1] === undefined ? { dir: socket } : { dir: path.dirname(socket), port: Number(match[1]) };
}

function sslFields(view: ConfigView, db: KeyPath): PgConnectionSettings {
  const k = (name: string): KeyPath => [...db, name];
  const mode = view.string(k("ssl_mode"));
  if (mode !== undefined && !isSslMode(mode)) view.fail(k("ssl_mode"), `must be one of ${SSL_MODES.join(", ")}`);
  // Inline PEM (ssl_ca, ssl_certificate, ssl_key) has no file to point at, so only the *_file forms are kept.
  return withoutUndefined({
    sslmode: mode,
    sslrootcert: view.string(k("ssl_ca_file")),
    sslcert: view.string(k("ssl_certificate_file")),
    sslkey: view.string(k("ssl_key_file")),
  });
}

// MAS's own default when `passwords.schemes` is absent.
const DEFAULT_SCHEMES: MasPasswordScheme[] = [{ version: 1, algorithm: "argon2id", unicodeNormalization: false }];

function readPasswords(view: ConfigView): Pick<MasConfig, "passwordsEnabled" | "passwordSchemes"> {
  view.mapping(["passwords"]);
  const passwordsEnabled = view.boolean(["passwords", "enabled"]) ?? true;
  const list = view.list(["passwords", "schemes"]);
  const passwordSchemes =
    list === undefined
      ? DEFAULT_SCHEMES.map((s) => ({ ...s }))
      : list.map((_, i) => readScheme(view, ["passwords", "schemes", i]));
  const seen = new Set<number>();
  passwordSchemes.forEach((s, i) => {
    if (seen.has(s.version))
      view.fail(["passwords", "schemes", i, "version"], `repeats version ${s.version}; MAS requires distinct versions`);
    seen.add(s.version);
  });
  return { passwordsEnabled, passwordSchemes };
}

function readScheme(view: ConfigView, at: KeyPath): MasPasswordScheme {
  const k = (name: string): KeyPath => [...at, name];
  if (view.mapping(at) === undefined) view.fail(at, "must be a mapping, not empty");
  const version = view.integer(k("version"), 0, 65535);
  if (version === undefined) view.fail(k("version"), "is missing");
  const algorithm = view.string(k("algorithm"));
  if (algorithm === undefined || !ALGORITHMS.includes(algorithm))
    view.fail(k("algorithm"), `must be one of ${ALGORITHMS.join(", ")}`);
  const secretFile = view.string(k("secret_file"));
  if (secretFile !== undefined && view.value(k("secret")) != null) {
    view.fail(k("secret_file"), "cannot be combined with secret; MAS refuses both");
  }
  return withoutUndefined({
    version,
    algorithm,
    cost: view.integer(k("cost"), 1, 4294967295),
    secret: secretFile === undefined ? view.string(k("secret")) : readSecretFile(view, k("secret_file"), secretFile),
    secretFile,
    unicodeNormalization: view.boolean(k("unicode_normalization")) ?? false,
  });
}

/** MAS uses the file's bytes as they are, so a trailing newline is kept: it is part of MAS's pepper. */
function readSecretFile(view: ConfigView, at: KeyPath, file: string): string {
  const label = `${view.fileOf(at)}: ${formatKey(at)}`;
  return readTextFile(
    file,
    "point secret_file at a readable file holding the pepper (MAS reads it from its own working directory)",
    label,
  );
}

/**
 * A provider's `id`, which MAS requires to be a ULID. YAML reads an unquoted id made of digits
 * (`00000000000000000000000004`) as a number, so it is refused here rather than found nowhere later.
 */
function readProviderId(view: ConfigView, at: KeyPath, synapseIdpId: string | undefined): string {
  const which = synapseIdpId === undefined ? "" : `(the provider with synapse_idp_id ${synapseIdpId}) `;
  const hint = 'quote the id and make it the provider\'s 26-character ULID, e.g. id: "01JSHPZHAXC50QBKH67MH33TNF"';
  const value = view.value(at);
  if (value === undefined || value === null)
    return view.fail(at, `${which}is missing; MAS requires a ULID for every provider`, hint);
  if (typeof value === "number") {
    return view.fail(
      at,
      `${which}is the number ${value}, not a ULID: YAML reads an unquoted id made of digits as a number`,
      hint,
    );
  }
  if (typeof value !== "string") return view.fail(at, `${which}must be a ULID, not ${describeKind(value)}`, hint);
  if (ulidTextToUuid(value) === undefined) {
    return view.fail(at, `${which}is "${value}", not a ULID (26 characters of Crockford base32, the first one 0 to 7)`, hint);
  }
  return value;
}

function readUpstreamProviders(view: ConfigView): MasUpstreamProvider[] {
  view.mapping(["upstream_oauth2"]);
  const list = view.list(["upstream_oauth2", "providers"]) ?? [];
  return list.map((_, i) => {
    const at: KeyPath = ["upstream_oauth2", "providers", i];
    if (view.mapping(at) === undefined) view.fail(at, "must be a mapping, not empty");
    const synapseIdpId = view.string([...at, "synapse_idp_id"]);
    return {
      id: readProviderId(view, [...at, "id"], synapseIdpId),
      synapseIdpId,
      issuer: view.string([...at, "issuer"]),
      humanName: view.string([...at, "human_name"]),
    };
  });
}
