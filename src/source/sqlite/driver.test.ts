import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import sqlite3 from "sqlite3";
import { isHintForm } from "../../errors/hint-form.ts";
import { UserError } from "../../errors/user-error.ts";
import { scratchDir } from "../../../test/harness/scratch.ts";
import { findingQueries } from "../findings-sql.ts";
import { loadSqliteDriver, SqliteConnection, type SqliteDriver } from "./driver.ts";
import { SQLITE_DIALECT } from "./snapshot.ts";

// The installed module has every part the driver's own type names (a compile-time check).
const installed: SqliteDriver = sqlite3;

describe("loading the optional sqlite3 module", () => {
  const rejection = async (importDriver: Parameters<typeof loadSqliteDriver>[0]): Promise<UserError> => {
    const error: unknown = await loadSqliteDriver(importDriver).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof UserError, `expected a UserError, got ${String(error)}`);
    assert.ok(isHintForm(error.hint), `hint ${JSON.stringify(error.hint)} is not in the common form`);
    assert.match(error.hint, /C compiler/);
    assert.match(error.hint, /synapse_port_db/);
    assert.doesNotMatch(error.message, /\n/);
    return error;
  };

  it("gives the installed module, which opens a database read-only", async () => {
    const driver = await loadSqliteDriver();
    assert.equal(driver, installed);
    const dir = scratchDir("syn2mas-driver-");
    const path = join(dir, "one.db");
    await new Promise<void>((resolve, reject) => {
      const db = new sqlite3.Database(path, (e) =>
        e
          ? reject(e)
          : db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (42)", (e2) => (e2 ? reject(e2) : db.close(() => resolve()))),
      );
    });
    const connection = await SqliteConnection.open(driver, path, "read-only");
    try {
      assert.deepEqual(await connection.all("SELECT x FROM t"), [{ x: 42 }]);
      await assert.rejects(connection.exec("INSERT INTO t VALUES (1)"), /readonly/);
    } finally {
      await connection.close();
    }
  });

  it("a module that is not installed: a UserError saying so, and how to get it", async () => {
    const error = await rejection(() => import("syn2mas-test-no-such-module" as string));
    assert.equal(
      error.message,
      "Synapse's SQLite database needs the optional sqlite3 module, which is not installed (it builds from C sources when no prebuilt binary fits this machine)",
    );
    assert.equal((error.cause as NodeJS.ErrnoException).code, "ERR_MODULE_NOT_FOUND");
  });

  it("a module whose compiled part does not load: a UserError saying so, without the loader's message", async () => {
    // A package whose native part is not a shared library, as when the build left something else behind.
    const dir = scratchDir("syn2mas-driver-");
    writeFileSync(join(dir, "binding.node"), "not a shared library\n");
    writeFileSync(join(dir, "index.cjs"), 'module.exports = require("./binding.node");\n');
    const error = await rejection(() => import(pathToFileURL(join(dir, "index.cjs")).href));
    assert.equal(
      error.message,
      "Synapse's SQLite database needs the optional sqlite3 module, which is installed but its compiled part cannot be loaded (it builds from C sources when no prebuilt binary fits this machine)",
    );
    assert.equal((error.cause as NodeJS.ErrnoException).code, "ERR_DLOPEN_FAILED");
    assert.doesNotMatch(error.message, /binding\.node|shared|ELF/);
  });
});

describe("the shared SQL, for SQLite", () => {
  it("leaves no PostgreSQL-only spelling in the findings that SQLite runs", () => {
    for (const [name, q] of Object.entries(findingQueries(SQLITE_DIALECT))) {
      if (q.judgedByEngine) {
        assert.equal(name, "unparsableDeviceIps", "only the device IPs are judged by decodeIp on SQLite");
        continue;
      }
      const sql = `SELECT count(*) FROM ${q.from} WHERE ${q.where}`;
      // String literals are data, not spelling (a bcrypt prefix such as '$2b$' is no parameter).
      const code = sql.replace(/'(?:[^']|'')*'/g, "''");
      assert.doesNotMatch(code, /::|\bstrpos\(|\bleft\(|\bbtrim\(|\bchr\(| ~\*? |!~|\$\d/, name);
    }
  });
});
