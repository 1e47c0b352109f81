/** Reading YAML configuration files and typed access to their keys, with errors that name file and key. */
import fs from "node:fs";
import path from "node:path";
import YAML, { LineCounter } from "yaml";
import { UserError } from "../errors/user-error.ts";

/** A key's location inside a configuration, e.g. `["oidc_providers", 1, "idp_id"]`. */
export type KeyPath = readonly (string | number)[];

/** A YAML mapping as plain JavaScript. */
export type Mapping = Record<string, unknown>;

/** What to tell the operator when a file cannot be used or a key is wrong. */
export interface SourceHints {
  /** Hint for a missing, unreadable or malformed file. */
  file: string;
  /** Default hint for a key with a missing or wrong value. */
  key: string;
}

/** Formats a key path the way the operator writes it: `database.args.port`, `oidc_providers[1].idp_id`. */
export function formatKey(keyPath: KeyPath): string {
  let out = "";
  for (const part of keyPath) {
    out += typeof part === "number" ? `[${part}]` : out === "" ? part : `.${part}`;
  }
  return out;
}

/** True for a YAML mapping (not a list, a date or a scalar). */
export function isMapping(value: unknown): value is Mapping {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** A copy of `o` without the keys whose value is undefined, so results compare and print cleanly. */
export function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Names a value's kind without showing the value, which may be a secret. */
export function describeKind(value: unknown): string {
  if (value === null || value === undefined) return "empty";
  if (Array.isArray(value)) return "a list";
  if (isMapping(value)) return "a mapping";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "number") return "a number";
  if (typeof value === "string") return "a string";
  return "a value of another kind";
}

function ioProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "does not exist";
  if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied)";
  if (code === "EISDIR") return "is a directory, not a file";
  return `cannot be read (${code ?? "unknown error"})`;
}

/**
 * Reads a whole text file, turning I/O failures into a UserError.
 * `label` names what points at the file (e.g. `mas.yaml: passwords.schemes[0].secret_file`); without it the file itself is named.
 */
export function readTextFile(file: string, hint: string, label?: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    const message = label === undefined ? `${file}: the file ${ioProblem(err)}` : `${label}: ${file} ${ioProblem(err)}`;
    throw new UserError(message, hint, { cause: err });
  }
}

/**
 * Expands each path: a file stays itself, a directory gives its `*.yaml` files in name order.
 * A path that does not exist or cannot be listed is a UserError.
 */
export function expandConfigPaths(paths: readonly string[], hints: SourceHints): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch (err) {
      throw new UserError(`${p}: the configuration file ${ioProblem(err)}`, hints.file, { cause: err });
    }
    if (!stat.isDirectory()) {
      files.push(p);
      continue;
    }
    let names: string[];
    try {
      names = fs.readdirSync(p);
    } catch (err) {
      throw new UserError(`${p}: the configuration directory ${ioProblem(err)}`, hints.file, { cause: err });
    }
    const yamlFiles = names
      .filter((n) => n.endsWith(".yaml"))
      .sort()
      .map((n) => path.join(p, n))
      .filter((f) => fs.statSync(f, { throwIfNoEntry: false })?.isFile() === true);
    files.push(...yamlFiles);
  }
  return files;
}

/** Parses one YAML file whose top level must be a mapping; an empty file is an empty mapping. */
export function readYamlMapping(file: string, version: "1.1" | "1.2", hints: SourceHints): Mapping {
  const text = readTextFile(file, hints.file);
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { version, uniqueKeys: false, prettyErrors: false, lineCounter });
  const first = doc.errors[0];
  if (first !== undefined) {
    // An error at the end of input (an unclosed quote) belongs to the last written line, not the empty one after it.
    const { line } = lineCounter.linePos(Math.max(0, Math.min(first.pos[0], text.trimEnd().length - 1)));
    // Only the parser's own sentence: its code frame would echo the line, which may hold a secret.
    throw new UserError(
      `${file}: invalid YAML at line ${line}: ${first.message}`,
      `correct the YAML syntax at or just before line ${line} of ${file} (an unclosed quote or bracket, a tab, a misaligned indentation), then run again`,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new UserError(
      `${file}: invalid YAML: ${(err as Error).message}`,
      `correct the YAML of ${file} (its aliases and anchors), then run again`,
      {
        cause: err,
      },
    );
  }
  if (value === null || value === undefined) return {};
  if (!isMapping(value)) {
    throw new UserError(
      `${file}: the top level must be a mapping of keys, not ${describeKind(value)}`,
      `make ${file} a mapping of configuration keys (key: value lines), or ${hints.file}`,
    );
  }
  return value;
}

/**
 * The merged configuration plus which file each key came from, with typed getters.
 * Getters treat a missing key and an empty value (`key:` with nothing) alike, as unset.
 */
export class ConfigView {
  constructor(
    readonly raw: Mapping,
    private readonly origins: ReadonlyMap<string, string>,
    private readonly hints: SourceHints,
    /** Named when no file set the key (e.g. a required key that is missing everywhere). */
    private readonly allFiles: string,
  ) {}

  /** The file that set this key, or its nearest ancestor. */
  fileOf(keyPath: KeyPath): string {
    for (let n = keyPath.length; n > 0; n--) {
      const file = this.origins.get(formatKey(keyPath.slice(0, n)));
      if (file !== undefined) return file;
    }
    return this.allFiles;
  }

  /** Throws a UserError naming the file and the key. `problem` must never contain the value. */
  fail(keyPath: KeyPath, problem: string, hint: string = this.hints.key): never {
    throw new UserError(`${this.fileOf(keyPath)}: ${formatKey(keyPath)} ${problem}`, hint);
  }

  value(keyPath: KeyPath): unknown {
    let current: unknown = this.raw;
    for (const part of keyPath) {
      if (typeof part === "number") current = Array.isArray(current) ? current[part] : undefined;
      else current = isMapping(current) ? current[part] : undefined;
    }
    return current;
  }

  mapping(keyPath: KeyPath): Mapping | undefined {
    const v = this.value(keyPath);
    if (v === null || v === undefined || isMapping(v)) return v ?? undefined;
    return this.fail(keyPath, `must be a mapping, not ${describeKind(v)}`);
  }

  list(keyPath: KeyPath): unknown[] | undefined {
    const v = this.value(keyPath);
    if (v === null || v === undefined || Array.isArray(v)) return v ?? undefined;
    return this.fail(keyPath, `must be a list, not ${describeKind(v)}`);
  }

  string(keyPath: KeyPath): string | undefined {
    const v = this.value(keyPath);
    if (v === null || v === undefined || typeof v === "string") return v ?? undefined;
    return this.fail(keyPath, `must be a string, not ${describeKind(v)}`);
  }

  /** A string that YAML may have read as a number (`password: 1234`), as the consuming program would stringify it. */
  text(keyPath: KeyPath): string | undefined {
    const v = this.value(keyPath);
    if (typeof v === "number") return String(v);
    return this.string(keyPath);
  }

  boolean(keyPath: KeyPath): boolean | undefined {
    const v = this.value(keyPath);
    if (v === null || v === undefined || typeof v === "boolean") return v ?? undefined;
    return this.fail(keyPath, `must be true or false, not ${describeKind(v)}`);
  }

  /** An integer in [min, max]; a string of digits is accepted when `allowString`. */
  integer(keyPath: KeyPath, min: number, max: number, allowString = false): number | undefined {
    const v = this.value(keyPath);
    if (v === null || v === undefined) return undefined;
    const n = typeof v === "number" ? v : allowString && typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    const got = typeof v === "number" ? String(v) : describeKind(v);
    return this.fail(keyPath, `must be a whole number from ${min} to ${max}, not ${got}`);
  }
}
