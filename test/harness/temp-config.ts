/** Writes edited copies of the fixture Synapse / MAS YAML configurations into a test's temp directory. */

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseDocument } from "yaml";
import type { Document } from "yaml";
import { masConfigYaml, synapseHomeserverYaml } from "./fixtures.ts";

/** Top-level keys to set; a value of `undefined` removes the key. */
export type ConfigOverrides = Record<string, unknown>;

/** Options for {@link writeSynapseConfig}. */
export interface SynapseConfigOptions {
  /**
   * A `postgresql://user[:password]@host:port/db` URI (e.g. `cluster.uri("synapse")`) copied into
   * `database.args` (host, port, user, dbname, and password when present). Unset: left as in the fixture.
   */
  databaseUri?: string;
  /** Applied after the database settings. */
  overrides?: ConfigOverrides;
  /** Source configuration; defaults to the fixture homeserver.yaml. */
  source?: string;
  /** File name inside `dir`; defaults to "homeserver.yaml". */
  fileName?: string;
}

/**
 * Writes `dir/homeserver.yaml`: the fixture Synapse configuration (psycopg2) pointed at the given
 * database, with top-level overrides applied; comments and formatting of untouched keys are kept.
 * Returns the path written.
 */
export async function writeSynapseConfig(dir: string, options: SynapseConfigOptions = {}): Promise<string> {
  const doc = await loadYaml(options.source ?? synapseHomeserverYaml);
  if (options.databaseUri !== undefined) setSynapseDatabase(doc, options.databaseUri);
  applyOverrides(doc, options.overrides);
  return saveYaml(doc, join(dir, options.fileName ?? "homeserver.yaml"));
}

/** Options for {@link writeMasConfig}. */
export interface MasConfigOptions {
  /** Written to `database.uri`. */
  uri: string;
  /** Applied after the database URI. */
  overrides?: ConfigOverrides;
  /** File name inside `dir`; defaults to "mas-config.yaml". */
  fileName?: string;
}

/** Writes `dir/mas-config.yaml`: the fixture MAS configuration with `database.uri` and overrides set. Returns its path. */
export async function writeMasConfig(dir: string, options: MasConfigOptions): Promise<string> {
  const doc = await loadYaml(masConfigYaml);
  doc.setIn(["database", "uri"], options.uri);
  applyOverrides(doc, options.overrides);
  return saveYaml(doc, join(dir, options.fileName ?? "mas-config.yaml"));
}

function setSynapseDatabase(doc: Document, uri: string): void {
  const url = new URL(uri);
  if (url.protocol !== "postgresql:" && url.protocol !== "postgres:") {
    throw new Error(`writeSynapseConfig: not a PostgreSQL URI: ${url.protocol}`);
  }
  doc.setIn(["database", "name"], "psycopg2");
  doc.setIn(["database", "args", "host"], decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, "$1"));
  doc.setIn(["database", "args", "port"], url.port === "" ? 5432 : Number(url.port));
  doc.setIn(["database", "args", "user"], decodeURIComponent(url.username));
  doc.setIn(["database", "args", "dbname"], decodeURIComponent(url.pathname.replace(/^\//, "")));
  if (url.password !== "") doc.setIn(["database", "args", "password"], decodeURIComponent(url.password));
}

function applyOverrides(doc: Document, overrides: ConfigOverrides | undefined): void {
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (value === undefined) doc.delete(key);
    else doc.set(key, value);
  }
}

async function loadYaml(path: string): Promise<Document> {
  const doc = parseDocument(await readFile(path, "utf8"));
  if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message ?? "invalid YAML"}`);
  return doc;
}

async function saveYaml(doc: Document, path: string): Promise<string> {
  await writeFile(path, doc.toString());
  return path;
}
