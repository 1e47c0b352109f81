/**
 * Reads one password from standard input, never from the command line (where other users of the
 * machine and the shell's history would see it). On a terminal: prompts on stderr and reads with
 * echo off; otherwise: the first line of the piped input.
 */
import { UserError } from "../errors/user-error.ts";

const HINT = "pass the password on standard input: type it at the prompt, or pipe it in";

/** The first line of `input` (without its line ending), or undefined when the input ended before any character. */
function firstLine(text: string, ended: boolean): string | undefined {
  const end = text.search(/\r?\n/);
  if (end >= 0) return text.slice(0, end);
  return ended && text !== "" ? text : undefined;
}

/** The first line of piped input; undefined when it is empty. */
function readPiped(input: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let text = "";
    const done = (line: string | undefined) => {
      input.removeListener("data", onData);
      input.removeListener("end", onEnd);
      input.removeListener("error", onError);
      input.pause();
      resolve(line);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      const line = firstLine(text, false);
      if (line !== undefined) done(line);
    };
    const onEnd = () => done(firstLine(text, true));
    const onError = (error: unknown) => reject(error);
    input.setEncoding("utf8");
    input.on("data", onData);
    input.on("end", onEnd);
    input.on("error", onError);
    input.resume();
  });
}

/** Reads a line from a terminal in raw mode, echoing nothing; Ctrl-C and Ctrl-D give up. */
function readTerminal(input: NodeJS.ReadStream, prompt: string, output: NodeJS.WritableStream): Promise<string | undefined> {
  output.write(prompt);
  return new Promise((resolve) => {
    let text = "";
    const finish = (line: string | undefined) => {
      input.removeListener("data", onData);
      input.setRawMode(false);
      input.pause();
      output.write("\n");
      resolve(line);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === "\r" || ch === "\n") return finish(text);
        if (ch === "\u0003" || (ch === "\u0004" && text === "")) return finish(undefined);
        if (ch === "\u007f" || ch === "\b") text = [...text].slice(0, -1).join("");
        else if (ch >= " ") text += ch;
      }
    };
    input.setRawMode(true);
    input.setEncoding("utf8");
    input.on("data", onData);
    input.resume();
  });
}

/**
 * One password from standard input (`input`, process.stdin by default).
 * @throws UserError when nothing was given (empty input, or the prompt abandoned).
 */
export async function readPassword(
  prompt: string,
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<string> {
  const line = input.isTTY ? await readTerminal(input, prompt, output) : await readPiped(input);
  if (line === undefined || line === "") throw new UserError("no password was given on standard input", HINT);
  return line;
}
