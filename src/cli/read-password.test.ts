/** readPassword: the first line of piped input, and a terminal read with echo off (a real pseudo-terminal, through `script`). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { isHintForm } from "../errors/hint-form.ts";
import { UserError } from "../errors/user-error.ts";
import { readPassword } from "./read-password.ts";
import { shellQuote, which } from "../../test/harness/exec.ts";
import { scratchDir } from "../../test/harness/scratch.ts";

/** A pipe that delivers `chunks` one by one, then ends. */
function piped(...chunks: string[]): NodeJS.ReadStream {
  const stream = new PassThrough();
  for (const chunk of chunks) stream.write(Buffer.from(chunk, "utf8"));
  stream.end();
  return stream as unknown as NodeJS.ReadStream;
}

describe("readPassword from a pipe", () => {
  const cases: [string, string[], string][] = [
    ["the first line, without its newline", ["pässwörd-ﬁ 1\nsecond line\n"], "pässwörd-ﬁ 1"],
    ["a CRLF line ending", ["secret\r\nnext"], "secret"],
    ["input that ends without a newline", ["no-newline"], "no-newline"],
    ["a line split across chunks, and a character split across them", ["emoji-", "\ud83d\udd11", "-key\n"], "emoji-🔑-key"],
    ["spaces kept as typed", ["  spaced out  \n"], "  spaced out  "],
  ];
  for (const [name, chunks, expected] of cases) {
    it(name, async () => {
      const output = new PassThrough();
      assert.equal(await readPassword("Password: ", piped(...chunks), output), expected);
      assert.equal(output.read(), null, "no prompt when the input is not a terminal");
    });
  }

  for (const [name, chunks] of [
    ["empty input", []],
    ["an empty first line", ["\nsecond\n"]],
  ] as [string, string[]][]) {
    it(`refuses ${name} with a UserError`, async () => {
      await assert.rejects(readPassword("Password: ", piped(...chunks), new PassThrough()), (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.equal(error.message, "no password was given on standard input");
        assert.ok(isHintForm(error.hint));
        return true;
      });
    });
  }
});

const READ_PASSWORD = fileURLToPath(new URL("./read-password.ts", import.meta.url));

describe("readPassword from a terminal", () => {
  it("prompts, does not echo, honours backspace, and returns the line", { skip: which("script") === undefined }, async () => {
    const dir = scratchDir("syn2mas-read-password-");
    const result = join(dir, "read.json");
    const program =
      `import { readPassword } from ${JSON.stringify(READ_PASSWORD)}; import { writeFileSync } from "node:fs"; ` +
      `const line = await readPassword("Password: "); writeFileSync(${JSON.stringify(result)}, JSON.stringify({ line }));`;
    // `script` runs the program on a new pseudo-terminal; what the terminal shows comes out on its stdout.
    const child = spawn("script", ["-qfec", `node --import tsx --input-type=module -e ${shellQuote(program)}`, "/dev/null"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let shown = "";
    child.stdout.on("data", (chunk: Buffer) => (shown += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const deadline = Date.now() + 30_000;
    while (!shown.includes("Password: ") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(shown.includes("Password: "), `no prompt: ${JSON.stringify(shown)}`);
    child.stdin.write("Å-sécret-ﬁX\u007f\r");
    assert.equal(await exited, 0);
    assert.deepEqual(JSON.parse(readFileSync(result, "utf8")), { line: "Å-sécret-ﬁ" });
    assert.ok(!shown.includes("sécret"), `the password was echoed: ${JSON.stringify(shown)}`);
  });
});
