/** How text for people looks on stderr: colour and wrapping only on a terminal, so logs stay plain and grep-able. */
import { styleText } from "node:util";

export interface TextStyle {
  /** Colour the ERROR and WARNING labels (a terminal, and NO_COLOR unset or empty). */
  colour: boolean;
  /** Wrap long lines at word boundaries to this width; undefined: one line per item (logs, pipes, files). */
  width: number | undefined;
}

/** Plain text, one line per item: what files, pipes and CI logs get. */
export const PLAIN: TextStyle = { colour: false, width: undefined };

/** The style for `stream`: a terminal gets colour (unless NO_COLOR, https://no-color.org) and its own width. */
export function textStyleFor(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv = process.env): TextStyle {
  if (stream.isTTY !== true) return PLAIN;
  const noColour = (env["NO_COLOR"] ?? "") !== "" || env["TERM"] === "dumb";
  return { colour: !noColour, width: stream.columns !== undefined && stream.columns >= 40 ? stream.columns : 80 };
}

/** The severity label of a finding, red for ERROR and yellow for WARNING when colour is on. */
export function severityLabel(severity: "error" | "warning" | "info", style: TextStyle): string {
  const label = severity.toUpperCase();
  if (!style.colour || severity === "info") return label;
  return styleText(severity === "error" ? "red" : "yellow", styleText("bold", label));
}

/**
 * Breaks `text` into lines of at most `width` characters at spaces, never inside a word (a word longer
 * than the line stands alone on its own); lines after the first start with `indent` spaces.
 * Without a width the text is returned unchanged.
 */
export function wrapWords(text: string, width: number | undefined, indent = 0): string {
  if (width === undefined || text.length <= width) return text;
  const lead = /^ */.exec(text)?.[0] ?? "";
  const pad = " ".repeat(indent);
  const lines: string[] = [];
  let line = lead;
  let start = lead.length;
  for (const word of text.slice(lead.length).split(/ +/)) {
    if (line.length === start) {
      line += word;
    } else if (line.length + 1 + word.length <= width) {
      line += " " + word;
    } else {
      lines.push(line);
      line = pad + word;
      start = pad.length;
    }
  }
  lines.push(line);
  return lines.join("\n");
}
