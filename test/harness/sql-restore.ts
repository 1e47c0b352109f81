/**
 * Loads pg_dump plain-format files through the `pg` driver, so that the harness needs only a running
 * server (no psql). Statements run in one session, in file order, each on its own like psql does;
 * `COPY ... FROM stdin;` blocks stream their data lines up to `\.`; psql meta-commands
 * (`\restrict`, `\unrestrict`, ...) are skipped.
 */

import { readFile } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

/** One unit of a SQL file: a statement, or a COPY statement with the data lines that follow it. */
export type SqlStep =
  { kind: "statement"; text: string; line: number } | { kind: "copy"; text: string; line: number; data: string };

const COPY_FROM_STDIN = /^COPY\b[\s\S]*\bFROM\s+stdin\b/i;

/**
 * Splits a pg_dump plain-format script into statements and COPY blocks. Knows string literals
 * ('...' with '' and E'...' with backslash escapes), quoted identifiers, dollar quotes ($$ / $tag$),
 * line and (nested) block comments. A line starting with `\` outside of all these is a psql
 * meta-command and is skipped. `line` is the 1-based line where the statement starts.
 */
export function splitSqlScript(script: string): SqlStep[] {
  const steps: SqlStep[] = [];
  const n = script.length;
  let i = 0;
  let line = 1;
  let start = -1; // index of the statement's first significant character, -1 while none
  let startLine = 0;

  const begin = (): void => {
    if (start < 0) {
      start = i;
      startLine = line;
    }
  };
  /** Advances to index `to`, counting newlines. */
  const advance = (to: number): void => {
    for (; i < to; i++) if (script.charCodeAt(i) === 10) line++;
  };
  const fail = (what: string): never => {
    throw new Error(`line ${startLine}: ${what} never closed before the end of the script`);
  };

  while (i < n) {
    const c = script[i];
    const atLineStart = i === 0 || script[i - 1] === "\n";
    if (c === "\\" && atLineStart && start < 0) {
      // psql meta-command: the whole line.
      const eol = script.indexOf("\n", i);
      advance(eol < 0 ? n : eol + 1);
      continue;
    }
    if (c === "-" && script[i + 1] === "-") {
      const eol = script.indexOf("\n", i);
      advance(eol < 0 ? n : eol);
      continue;
    }
    if (c === "/" && script[i + 1] === "*") {
      if (start < 0) startLine = line;
      let depth = 0;
      let j = i;
      while (j < n) {
        if (script[j] === "/" && script[j + 1] === "*") {
          depth++;
          j += 2;
        } else if (script[j] === "*" && script[j + 1] === "/") {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else j++;
      }
      if (depth !== 0) fail("block comment");
      advance(j);
      continue;
    }
    if (/\s/.test(c ?? "")) {
      advance(i + 1);
      continue;
    }
    begin();
    if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(script[i - 1] ?? "") && !isIdentChar(script[i - 2]);
      let j = i + 1;
      for (;;) {
        if (j >= n) fail("string literal");
        const d = script[j];
        if (escapes && d === "\\") j += 2;
        else if (d === "'" && script[j + 1] === "'") j += 2;
        else if (d === "'") break;
        else j++;
      }
      advance(j + 1);
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= n) fail("quoted identifier");
        if (script[j] === '"' && script[j + 1] === '"') j += 2;
        else if (script[j] === '"') break;
        else j++;
      }
      advance(j + 1);
      continue;
    }
    if (c === "$" && !isIdentChar(script[i - 1])) {
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(script.slice(i, i + 64));
      if (tag !== null) {
        const close = script.indexOf(tag[0], i + tag[0].length);
        if (close < 0) fail(`dollar quote ${tag[0]}`);
        advance(close + tag[0].length);
        continue;
      }
    }
    if (c === ";") {
      const text = script.slice(start, i + 1);
      const stmtLine = startLine;
      advance(i + 1);
      start = -1;
      if (COPY_FROM_STDIN.test(text)) {
        // The data starts on the next line and ends at a line holding only `\.`.
        const eol = script.indexOf("\n", i);
        const dataStart = eol < 0 ? n : eol + 1;
        advance(dataStart);
        const end = findCopyEnd(script, dataStart);
        if (end < 0) throw new Error(`line ${stmtLine}: COPY data has no terminating \\. line`);
        steps.push({ kind: "copy", text, line: stmtLine, data: script.slice(dataStart, end) });
        const afterEnd = script.indexOf("\n", end);
        advance(afterEnd < 0 ? n : afterEnd + 1);
      } else {
        steps.push({ kind: "statement", text, line: stmtLine });
      }
      continue;
    }
    advance(i + 1);
  }
  if (start >= 0) {
    const text = script.slice(start).trim();
    if (text.length > 0) steps.push({ kind: "statement", text, line: startLine });
  }
  return steps;
}

/** Index of the `\.` line ending the COPY data that starts at `from`, or -1. */
function findCopyEnd(script: string, from: number): number {
  for (let pos = from; pos < script.length;) {
    const eol = script.indexOf("\n", pos);
    const lineEnd = eol < 0 ? script.length : eol;
    if (script.slice(pos, lineEnd).replace(/\r$/, "") === "\\.") return pos;
    if (eol < 0) return -1;
    pos = eol + 1;
  }
  return -1;
}

function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

/**
 * Runs a pg_dump plain-format file against the database at `connectionString` in one session, and stops
 * at the first failing statement (like psql's ON_ERROR_STOP) with an error naming the file, the line and
 * the statement. Nothing is wrapped in a transaction: statements before the failing one stay, as with psql.
 */
export async function restoreSqlFile(connectionString: string, file: string): Promise<void> {
  const steps = splitSqlScript(await readFile(file, "utf8"));
  const client = new pg.Client({ connectionString, ssl: false });
  client.on("error", () => {
    // The server ended the session; the pending query rejects with the cause.
  });
  await client.connect();
  try {
    for (const step of steps) {
      try {
        if (step.kind === "copy") {
          await pipeline(Readable.from([step.data]), client.query(copyFrom(step.text)));
        } else {
          await client.query(step.text);
        }
      } catch (error) {
        const statement = step.text.length > 200 ? `${step.text.slice(0, 200)}...` : step.text;
        throw new Error(`${file}:${step.line}: ${(error as Error).message}\n  in: ${statement}`, { cause: error });
      }
    }
  } finally {
    await client.end();
  }
}
