/** Turning libpq-style connection settings into node-postgres options, a printable description, or back from a URI. */
import os from "node:os";
import type { ConnectionOptions } from "node:tls";
import type { ClientConfig } from "pg";
import { parse } from "pg-connection-string";
import { UserError } from "../errors/user-error.ts";
import type { PgConnectionSettings } from "./types.ts";
import { readTextFile } from "./yaml-source.ts";

type SslMode = NonNullable<PgConnectionSettings["sslmode"]>;

/** The libpq `sslmode` values, in libpq's order. */
export const SSL_MODES: readonly SslMode[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/** Narrows a string to a libpq `sslmode` value. */
export function isSslMode(value: string): value is SslMode {
  return (SSL_MODES as readonly string[]).includes(value);
}

const SSL_HINT = `use one of ${SSL_MODES.join(", ")}`;

function envValue(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

function effectiveSslMode(s: PgConnectionSettings): SslMode {
  if (s.sslmode !== undefined) return s.sslmode;
  const fromEnv = envValue("PGSSLMODE");
  if (fromEnv === undefined) return "prefer"; // libpq's default
  if (!isSslMode(fromEnv)) throw new UserError(`PGSSLMODE is not a valid sslmode`, SSL_HINT);
  return fromEnv;
}

function readPem(file: string, setting: string): string {
  return readTextFile(file, `make the ${setting} setting name a readable PEM file`, setting);
}

function tlsOptions(s: PgConnectionSettings, mode: SslMode): ConnectionOptions {
  const rootcert = s.sslrootcert ?? envValue("PGSSLROOTCERT");
  const cert = s.sslcert ?? envValue("PGSSLCERT");
  const key = s.sslkey ?? envValue("PGSSLKEY");
  const tls: ConnectionOptions = {};
  // libpq's "system" means the operating system's CAs, which is what Node uses when `ca` is unset.
  if (rootcert !== undefined && rootcert !== "system") tls.ca = readPem(rootcert, "sslrootcert");
  if (cert !== undefined) tls.cert = readPem(cert, "sslcert");
  if (key !== undefined) tls.key = readPem(key, "sslkey");
  // libpq: with a root certificate given, `require` behaves as `verify-ca`.
  const verifyCa = mode === "verify-ca" || (mode === "require" && tls.ca !== undefined);
  if (mode === "require" && !verifyCa) {
    tls.rejectUnauthorized = false;
  } else {
    tls.rejectUnauthorized = true;
    if (verifyCa) tls.checkServerIdentity = () => undefined;
  }
  return tls;
}

/**
 * Builds node-postgres client options from libpq-style settings.
 * Unset host, port, user, password and database stay unset so node-postgres falls back to `PG*` variables;
 * `sslmode` follows libpq (falling back to `PGSSLMODE`, then `prefer`, which for now connects without TLS).
 * @throws UserError when a certificate or key file cannot be read, or PGSSLMODE is invalid.
 */
export function toPgClientConfig(s: PgConnectionSettings, applicationName: string): ClientConfig {
  const config: ClientConfig = { application_name: applicationName };
  if (s.host !== undefined) config.host = s.host;
  if (s.port !== undefined) config.port = s.port;
  if (s.user !== undefined) config.user = s.user;
  if (s.password !== undefined) config.password = s.password;
  if (s.database !== undefined) config.database = s.database;
  if (s.options !== undefined) config.options = s.options;
  const mode = effectiveSslMode(s);
  config.ssl = mode === "disable" || mode === "allow" || mode === "prefer" ? false : tlsOptions(s, mode);
  return config;
}

/**
 * Describes where a connection goes, as `user@host:port/database`, filling what is unset from `PG*`
 * variables and libpq's defaults so the operator sees what will be used. Never includes the password.
 */
export function describeConnection(s: PgConnectionSettings): string {
  const user = s.user ?? envValue("PGUSER") ?? envValue("USER") ?? os.userInfo().username;
  const host = s.host ?? envValue("PGHOST") ?? "localhost";
  const port = s.port ?? envValue("PGPORT") ?? 5432;
  const database = s.database ?? envValue("PGDATABASE") ?? user;
  const shownHost = host.includes(":") && !host.startsWith("/") ? `[${host}]` : host;
  return `${user}@${shownHost}:${port}/${database}`;
}

const URI_HINT = "give a URI such as postgresql://user:password@host:5432/dbname (or ?host=/run/postgresql for a socket)";

// Taken out before pg-connection-string sees the URI: it would read the certificate files at parse time.
const SSL_PARAMS = ["sslmode", "sslrootcert", "sslcert", "sslkey", "ssl", "uselibpqcompat"] as const;

function splitQuery(uri: string): { base: string; params: URLSearchParams } {
  const at = uri.indexOf("?");
  if (at < 0) return { base: uri, params: new URLSearchParams() };
  return { base: uri.slice(0, at), params: new URLSearchParams(uri.slice(at + 1)) };
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Parses a `postgresql://` or `postgres://` URI (libpq's form, including `?host=/socket/dir`, `sslmode`,
 * `sslrootcert`, `sslcert`, `sslkey`, `options` and `dbname`) into connection settings.
 * `source` names where the URI came from in error messages; the URI itself is never shown (it may hold a password).
 * @throws UserError for another scheme, a malformed URI, a bad port or sslmode.
 */
export function parsePostgresUri(uri: string, source = "--synapse-database-uri"): PgConnectionSettings {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1];
  if (scheme === undefined || !/^postgres(ql)?$/i.test(scheme) || !uri.slice(scheme.length + 1).startsWith("//")) {
    const shown = scheme === undefined ? "has no scheme" : `has the scheme "${scheme}:"`;
    throw new UserError(`${source}: the database URI ${shown}; it must start with postgresql://`, URI_HINT);
  }
  const { base, params } = splitQuery(uri);
  const ssl = new Map<string, string>();
  for (const name of SSL_PARAMS) {
    const v = params.get(name);
    if (v !== null) ssl.set(name, v);
    params.delete(name);
  }
  const rest = params.toString();
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rest === "" ? base : `${base}?${rest}`);
  } catch (err) {
    throw new UserError(`${source}: the database URI is malformed`, URI_HINT, { cause: err });
  }
  return buildSettings(parsed, ssl, source);
}

function buildSettings(parsed: ReturnType<typeof parse>, ssl: Map<string, string>, source: string): PgConnectionSettings {
  const s: PgConnectionSettings = {};
  const assign = <K extends keyof PgConnectionSettings>(key: K, value: PgConnectionSettings[K] | undefined): void => {
    if (value !== undefined) s[key] = value;
  };
  assign("host", nonEmpty(parsed.host));
  assign("port", parsePort(nonEmpty(parsed.port), source));
  assign("user", nonEmpty(parsed.user));
  assign("password", nonEmpty(parsed.password));
  assign("database", nonEmpty(parsed["dbname"]) ?? nonEmpty(parsed.database));
  assign("options", nonEmpty(parsed.options));
  const sslmode = nonEmpty(ssl.get("sslmode"));
  if (sslmode !== undefined && !isSslMode(sslmode)) {
    throw new UserError(`${source}: the database URI's sslmode is not valid`, SSL_HINT);
  }
  assign("sslmode", sslmode);
  assign("sslrootcert", nonEmpty(ssl.get("sslrootcert")));
  assign("sslcert", nonEmpty(ssl.get("sslcert")));
  assign("sslkey", nonEmpty(ssl.get("sslkey")));
  return s;
}

function parsePort(port: string | undefined, source: string): number | undefined {
  if (port === undefined) return undefined;
  const n = /^\d+$/.test(port) ? Number(port) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new UserError(`${source}: the database URI's port is not a number from 1 to 65535`, URI_HINT);
  }
  return n;
}
