import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Readable } from "node:stream";
import { Spool } from "./spool.ts";

async function readAll(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

async function writeAll(spool: Spool, parts: string[]): Promise<void> {
  const writer = spool.writer();
  for (const part of parts) writer.write(Buffer.from(part, "utf8"));
  writer.end();
  await once(writer, "finish");
}

describe("Spool", () => {
  it("reads back what was written, in order, and leaves no file behind", async () => {
    const spool = new Spool("users");
    const lines = Array.from({ length: 20_000 }, (_, i) => `@user${i}:example.com\tline ${i}\n`);
    await writeAll(spool, lines);
    assert.equal(readdirSync(tmpdir()).filter((name) => name.startsWith("syn2mas-") && name.endsWith("-users")).length, 0);
    assert.equal(await readAll(spool.reader()), lines.join(""));
    spool.close();
  });

  it("a destroyed reader leaves the file open for the spool: a second reader still reads it all", async () => {
    const spool = new Spool("devices");
    await writeAll(spool, ["a".repeat(600_000)]);
    const first = spool.reader();
    first.once("data", () => first.destroy(new Error("COPY failed")));
    await assert.rejects(readAll(first), /COPY failed/);
    assert.equal((await readAll(spool.reader())).length, 600_000);
    spool.close();
  });

  it("closing while a read runs waits for it, closes once, and later reads fail cleanly", async () => {
    const spool = new Spool("tokens");
    await writeAll(spool, ["b".repeat(1_000_000)]);
    const reader = spool.reader();
    const reading = readAll(reader);
    spool.close();
    spool.close();
    // Whatever the read had started finishes or fails with an error, never EBADF or a crash.
    await reading.then(
      (text) => assert.ok(text.length <= 1_000_000),
      (error: Error) => assert.match(error.message, /the spool file is closed/),
    );
    await assert.rejects(readAll(spool.reader()), /the spool file is closed/);
  });
});
