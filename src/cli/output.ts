/** Where the CLI writes: human text on stderr, machine JSON on stdout. */

export interface Output {
  /** A line for people (stderr). */
  info(text: string): void;
  /** The machine-readable result (stdout). */
  json(value: unknown): void;
}

/** The process's own streams. */
export const processOutput: Output = {
  info: (text) => process.stderr.write(text + "\n"),
  json: (value) => process.stdout.write(JSON.stringify(value, null, 2) + "\n"),
};
