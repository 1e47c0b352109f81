/** Throwaway PostgreSQL clusters for tests: initdb in a temp dir, start on a free port, create/clone/fingerprint databases. */

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { appendFile, chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { QueryResultRow } from "pg";
import { run } from "./exec.ts";
import type { RunResult } from "./exec.ts";
import { fingerprint } from "./fingerprint.ts";
import { findPgTools, serverUser } from "./pg-install.ts";
import type { PgTools, ServerUser } from "./pg-install.ts";
import { restoreSqlFile } from "./sql-restore.ts";

/** A running throwaway cluster. Superuser `postgres`, trust authentication, UTF8 / C locale. */
export interface Cluster {
  /** Always "127.0.0.1". */
  readonly host: string;
  /** The TCP port it listens on. */
  readonly port: number;
  /** Temp directory holding the data directory, the Unix socket and `postgres.log`. */
  readonly dir: string;
  /** `postgresql://postgres@127.0.0.1:PORT/db`. */
  uri(db: string): string;
  /**
   * `CREATE DATABASE name ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, then loads
   * each SQL file in order with {@link restoreSqlFile} (the database is dropped if one fails).
   */
  createDatabase(name: string, opts?: { fromSqlFile?: string | readonly string[] }): Promise<void>;
  /** Loads pg_dump plain-format SQL files into an existing database through the driver (stops at the first error). */
  loadSqlFiles(db: string, files: string | readonly string[]): Promise<void>;
  /** `CREATE DATABASE target TEMPLATE source`, after ending every session connected to `source`. */
  cloneDatabase(source: string, target: string): Promise<void>;
  /** Ends the database's sessions and drops it; nothing happens when it does not exist. */
  dropDatabase(name: string): Promise<void>;
  /** Runs one statement on a fresh connection (closed afterwards) and returns its rows. */
  sql<R extends QueryResultRow = Record<string, unknown>>(db: string, text: string, params?: readonly unknown[]): Promise<R[]>;
  /**
   * The database's {@link fingerprint}: schema (columns, constraints, indexes, triggers, functions, views,
   * sequences) and content (every table's row count and md5 of its rows, sequences' values), one line per
   * object, so that two dumps of an unchanged database are equal strings.
   */
  dump(db: string): Promise<string>;
  /** A copy of `process.env` with every `PG*` variable removed and PGHOST/PGPORT/PGUSER pointing here. */
  env(): NodeJS.ProcessEnv;
  /** Stops the server immediately and deletes the temp directory. Safe to call twice. */
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const SUPERUSER = "postgres";
const MAINTENANCE_DB = "postgres";
const START_ATTEMPTS = 5;
const START_TIMEOUT_S = 60;

/**
 * Creates a cluster with `initdb` in a fresh temp directory and starts it on a free port of 127.0.0.1
 * (fsync, full_page_writes and synchronous_commit off). As root, the server runs as the `postgres`
 * account (see {@link serverUser}). Resolves once it accepts connections; call `stop()` when done.
 */
export async function startCluster(): Promise<Cluster> {
  const tools = findPgTools();
  const user = serverUser();
  const dir = await mkdtemp(join(tmpdir(), "syn2mas-pg-"));
  const server = new Server(tools, user, dir);
  try {
    if (user.name !== undefined) await chown(dir, user.uid, user.gid);
    await server.init();
    const port = await server.startOnFreePort();
    const cluster = new PgCluster(server, port);
    await cluster.waitUntilReady();
    return cluster;
  } catch (error) {
    server.stopSync();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The server process side: initdb, pg_ctl start/stop, all run as the server account. */
class Server {
  readonly dataDir: string;
  readonly logFile: string;

  constructor(
    readonly tools: PgTools,
    readonly user: ServerUser,
    readonly dir: string,
  ) {
    this.dataDir = join(dir, "data");
    this.logFile = join(dir, "postgres.log");
  }

  async init(): Promise<void> {
    await this.runAsServer(this.tools.initdb, [
      "-D",
      this.dataDir,
      "-U",
      SUPERUSER,
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    const settings = [
      "",
      "# syn2mas test harness",
      `listen_addresses = '${HOST}'`,
      `unix_socket_directories = '${this.dir.replace(/'/g, "''")}'`,
      "fsync = off",
      "full_page_writes = off",
      "synchronous_commit = off",
      "",
    ];
    await appendFile(join(this.dataDir, "postgresql.conf"), settings.join("\n"));
  }

  /** Starts on a free port, retrying with another one when a different process grabbed it first. */
  async startOnFreePort(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        await this.runAsServer(this.tools.pgCtl, [
          "start",
          "-D",
          this.dataDir,
          "-l",
          this.logFile,
          "-w",
          "-t",
          String(START_TIMEOUT_S),
          "-o",
          `-p ${port}`,
        ]);
        return port;
      } catch (error) {
        const log = await readFile(this.logFile, "utf8").catch(() => "");
        if (attempt < START_ATTEMPTS && /could not bind|address already in use/i.test(log)) continue;
        throw new Error(`PostgreSQL did not start (log ${this.logFile}):\n${log.slice(-3000)}`, { cause: error });
      }
    }
  }

  async stop(): Promise<void> {
    try {
      await this.runAsServer(this.tools.pgCtl, ["stop", "-D", this.dataDir, "-m", "immediate", "-w"]);
    } catch (error) {
      if (existsSync(join(this.dataDir, "postmaster.pid"))) this.killPostmaster();
      else if (!/not running|does not exist/i.test(String(error))) throw error;
    }
  }

  /** Synchronous best effort, for cleanup paths and process exit. */
  stopSync(): void {
    if (!existsSync(join(this.dataDir, "postmaster.pid"))) return;
    const { command, args } = this.user.wrap(this.tools.pgCtl, ["stop", "-D", this.dataDir, "-m", "immediate", "-w"]);
    const result = spawnSync(command, args, { cwd: this.dir, stdio: "ignore" });
    if (result.status !== 0) this.killPostmaster();
  }

  private killPostmaster(): void {
    const pidFile = join(this.dataDir, "postmaster.pid");
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(pidFile, "utf8"), 10);
    } catch {
      return;
    }
    if (Number.isNaN(pid)) return;
    try {
      process.kill(pid, "SIGQUIT");
    } catch {
      // Already gone.
    }
  }

  private runAsServer(program: string, args: readonly string[]): Promise<RunResult> {
    const { command, args: wrapped } = this.user.wrap(program, args);
    return run(command, wrapped, { cwd: this.dir, env: { ...withoutPgVars(process.env), LC_ALL: "C" } });
  }
}

/** Clusters still running, stopped synchronously if the process exits without calling `stop()`. */
const live = new Set<Server>();
let exitHookInstalled = false;

function trackUntilExit(server: Server): void {
  live.add(server);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const s of live) {
      s.stopSync();
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
}

class PgCluster implements Cluster {
  readonly host = HOST;
  readonly dir: string;
  private stopped = false;

  constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    this.dir = server.dir;
    trackUntilExit(server);
  }

  uri(db: string): string {
    return `postgresql://${SUPERUSER}@${HOST}:${this.port}/${encodeURIComponent(db)}`;
  }

  /** Polls until a TCP connection succeeds (pg_ctl -w already waited on the socket). */
  async waitUntilReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.sql(MAINTENANCE_DB, "select 1");
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`PostgreSQL on port ${this.port} never accepted connections`, { cause: error });
        await sleep(100);
      }
    }
  }

  async createDatabase(name: string, opts: { fromSqlFile?: string | readonly string[] } = {}): Promise<void> {
    await this.sql(
      MAINTENANCE_DB,
      `CREATE DATABASE ${quoteIdent(name)} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`,
    );
    if (opts.fromSqlFile === undefined) return;
    try {
      await this.loadSqlFiles(name, opts.fromSqlFile);
    } catch (error) {
      await this.dropDatabase(name);
      throw error;
    }
  }

  async loadSqlFiles(db: string, files: string | readonly string[]): Promise<void> {
    for (const file of typeof files === "string" ? [files] : files) {
      await restoreSqlFile(this.uri(db), file);
    }
  }

  async cloneDatabase(source: string, target: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.terminateSessions(source);
      try {
        await this.sql(MAINTENANCE_DB, `CREATE DATABASE ${quoteIdent(target)} TEMPLATE ${quoteIdent(source)}`);
        return;
      } catch (error) {
        // 55006 object_in_use: someone connected to the source in between.
        if (attempt >= 5 || (error as { code?: string }).code !== "55006") throw error;
        await sleep(100 * attempt);
      }
    }
  }

  async dropDatabase(name: string): Promise<void> {
    await this.terminateSessions(name);
    await this.sql(MAINTENANCE_DB, `DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  }

  async sql<R extends QueryResultRow = Record<string, unknown>>(
    db: string,
    text: string,
    params?: readonly unknown[],
  ): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.uri(db), ssl: false });
    client.on("error", () => {
      // A session ended by the server (e.g. dropDatabase) also rejects the pending query; nothing more to do.
    });
    await client.connect();
    try {
      const result = await client.query<R>(text, params === undefined ? undefined : [...params]);
      return result.rows;
    } finally {
      await client.end();
    }
  }

  async dump(db: string): Promise<string> {
    return fingerprint(this.uri(db));
  }

  env(): NodeJS.ProcessEnv {
    return { ...withoutPgVars(process.env), PGHOST: HOST, PGPORT: String(this.port), PGUSER: SUPERUSER };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.server.stop();
    } finally {
      live.delete(this.server);
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  private async terminateSessions(db: string): Promise<void> {
    await this.sql(
      MAINTENANCE_DB,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [db],
    );
  }
}

/** Double-quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it when binding port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : undefined;
      probe.close(() => (port === undefined ? reject(new Error("could not read the probed port")) : resolve(port)));
    });
  });
}

function withoutPgVars(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith("PG")));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
