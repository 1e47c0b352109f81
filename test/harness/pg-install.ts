/** Locates the local PostgreSQL installation and the OS user that may run its server. */

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { isExecutable, shellQuote, which } from "./exec.ts";

/** Absolute paths of the PostgreSQL programs the harness uses. */
export interface PgTools {
  /** Directory holding `initdb` (and normally the others). */
  binDir: string;
  initdb: string;
  pgCtl: string;
  /** Optional: the harness restores and compares databases over SQL; only a comparison test uses psql. */
  psql?: string;
  /** Optional, unused by the harness. */
  pgDump?: string;
}

const DEBIAN_ROOT = "/usr/lib/postgresql";

/**
 * Finds `initdb` on PATH (following symlinks to its real directory), else in the highest-versioned
 * `/usr/lib/postgresql/<version>/bin/`, and takes `pg_ctl`, `psql` and `pg_dump` from the same directory.
 * Throws an error asking to install PostgreSQL when there is none.
 */
export function findPgTools(): PgTools {
  const binDir = binDirFromPath() ?? binDirFromDebianLayout();
  if (binDir === undefined) {
    throw new Error(
      "PostgreSQL server programs not found: no `initdb` on PATH nor in /usr/lib/postgresql/*/bin. " +
        "Install postgresql (e.g. `apt-get install postgresql`) to run the database tests.",
    );
  }
  return {
    binDir,
    initdb: join(binDir, "initdb"),
    pgCtl: tool(binDir, "pg_ctl"),
    psql: optionalTool(binDir, "psql"),
    pgDump: optionalTool(binDir, "pg_dump"),
  };
}

function binDirFromPath(): string | undefined {
  const initdb = which("initdb");
  if (initdb === undefined) return undefined;
  return dirname(realpathSync(initdb));
}

function binDirFromDebianLayout(): string | undefined {
  if (!existsSync(DEBIAN_ROOT)) return undefined;
  const versions = readdirSync(DEBIAN_ROOT)
    .filter((name) => /^\d+(\.\d+)?$/.test(name) && isExecutable(join(DEBIAN_ROOT, name, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  const newest = versions[0];
  return newest === undefined ? undefined : join(DEBIAN_ROOT, newest, "bin");
}

/** A program next to initdb, else the one on PATH (so a version mismatch shows up as a clear error). */
function tool(binDir: string, name: string): string {
  const sibling = join(binDir, name);
  if (isExecutable(sibling)) return sibling;
  const onPath = which(name);
  if (onPath !== undefined) return onPath;
  throw new Error(`PostgreSQL program ${name} not found in ${binDir} nor on PATH: install postgresql.`);
}

/** A program next to initdb, else the one on PATH, else undefined. */
function optionalTool(binDir: string, name: string): string | undefined {
  const sibling = join(binDir, name);
  return isExecutable(sibling) ? sibling : which(name);
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
