import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  chooseOpenMode,
  otherLockHolders,
  parseProcLocks,
  SqliteFileProblem,
  sqlitePathFromUri,
  sqliteUri,
  type SqliteFiles,
} from "./files.ts";

const base: SqliteFiles = {
  path: "/srv/homeserver.db",
  walMode: true,
  walBytes: null,
  shmExists: false,
  journalBytes: null,
  stamp: "",
};

describe("how a SQLite database is opened so that nothing is written", () => {
  const cases: [string, Partial<SqliteFiles>, string][] = [
    ["WAL, stopped cleanly (no -wal, no -shm)", {}, "immutable"],
    ["WAL, empty -wal without -shm", { walBytes: 0 }, "immutable"],
    ["WAL, -shm without -wal", { shmExists: true }, "immutable"],
    ["WAL, empty -wal and -shm (open, or copied while open)", { walBytes: 0, shmExists: true }, "immutable"],
    ["WAL, changes in -wal and -shm (running, or crashed)", { walBytes: 4152, shmExists: true }, "wal-read-only"],
    ["rollback journal", { walMode: false }, "read-only"],
    ["rollback journal with a -journal", { walMode: false, journalBytes: 512 }, "read-only"],
  ];
  for (const [name, files, mode] of cases) {
    it(`${name}: ${mode}`, () => assert.equal(chooseOpenMode({ ...base, ...files }), mode));
  }
  it("changes in -wal without -shm cannot be read without creating it: refused with what to do", () => {
    assert.throws(
      () => chooseOpenMode({ ...base, walBytes: 4152 }),
      (e: unknown) => {
        assert.ok(e instanceof SqliteFileProblem);
        assert.match(e.message, /homeserver\.db-wal holds 4152 bytes/);
        assert.match(e.hint, /stop it cleanly/);
        return true;
      },
    );
  });
  it("URIs escape what SQLite would read as a query", () => {
    assert.equal(sqliteUri("/a b/c%?#.db", "immutable"), "file:/a b/c%25%3f%23.db?immutable=1");
    assert.equal(sqliteUri("/x.db", "wal-read-only"), "file:/x.db?mode=ro&readonly_shm=1");
    assert.equal(sqliteUri("/x.db", "read-only"), "file:/x.db?mode=ro");
  });
});

describe("--synapse-database-uri sqlite:...", () => {
  const ok: [string, string][] = [
    ["sqlite:///var/lib/synapse/homeserver.db", "/var/lib/synapse/homeserver.db"],
    ["SQLITE:///data/homeserver.db", "/data/homeserver.db"],
    ["sqlite://localhost/data/homeserver.db", "/data/homeserver.db"],
    ["sqlite:////data/homeserver.db", "//data/homeserver.db"],
    ["sqlite:homeserver.db", "homeserver.db"],
    ["sqlite:///data/my%20server.db", "/data/my server.db"],
  ];
  for (const [uri, path] of ok) it(`${uri} -> ${path}`, () => assert.equal(sqlitePathFromUri(uri), path));
  it("another scheme is not ours", () => assert.equal(sqlitePathFromUri("postgresql://x/y"), undefined));
  for (const bad of ["sqlite://db.example.com/x.db", "sqlite:///x.db?mode=rw", "sqlite://", "sqlite:///%zz"]) {
    it(`${bad} is refused`, () => assert.throws(() => sqlitePathFromUri(bad), SqliteFileProblem));
  }
});

describe("who else has the database open (/proc/locks)", () => {
  let dir: string;
  let db: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "syn2mas-locks-"));
    db = join(dir, "homeserver.db");
    writeFileSync(db, "");
    writeFileSync(`${db}-shm`, "");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A /proc/locks line for `file` held by `pid`, with the device as Linux prints it. */
  function line(n: number, pid: number, file: string, blocked = false): string {
    const s = statSync(file, { bigint: true });
    const major = (s.dev >> 8n) & 0xfffn;
    const minor = (s.dev & 0xffn) | ((s.dev >> 12n) & ~0xffn);
    const dev = `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}`;
    return `${n}: ${blocked ? "-> " : ""}POSIX  ADVISORY  READ ${pid} ${dev}:${s.ino} 128 128`;
  }

  it("parses lines, waiters included", () => {
    assert.deepEqual(
      parseProcLocks("1: POSIX  ADVISORY  READ 5525 fe:00:2212065 128 128\n2: -> POSIX  ADVISORY  WRITE 77 08:1a:42 0 EOF\n"),
      [
        { pid: 5525, device: "fe:00", inode: "2212065" },
        { pid: 77, device: "08:1a", inode: "42" },
      ],
    );
  });
  it("names other processes holding a lock on the file or its -shm, not this one, not other files", () => {
    const text = [
      line(1, 4242, db),
      line(2, 4243, `${db}-shm`),
      line(3, process.pid, db),
      line(4, 4244, join(dir)),
      line(5, 4245, db, true),
    ].join("\n");
    assert.deepEqual(
      otherLockHolders(db, text).map((h) => h.replace(/ \(.*\)$/, "")),
      ["pid 4242", "pid 4243", "pid 4245"],
    );
  });
});
