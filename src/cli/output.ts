/** Where the CLI writes: human text on stderr, machine JSON on stdout. */
import { textStyleFor, type TextStyle } from "./style.ts";

export interface Output {
  /** A line for people (stderr). */
  info(text: string): void;
  /** The machine-readable result (stdout). */
  json(value: unknown): void;
  /** How text for people looks: colour and wrapping on a terminal only (plain when unset). */
  readonly style?: TextStyle;
}

/** The process's own streams. */
export const processOutput: Output = {
  info: (text) => process.stderr.write(text + "\n"),
  json: (value) => process.stdout.write(JSON.stringify(value, null, 2) + "\n"),
  style: textStyleFor(process.stderr),
};
