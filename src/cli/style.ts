/** How text for people looks on stderr: colour and wrapping only on a terminal, so logs stay plain and grep-able. */

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

/** SGR codes, written directly: node:util's styleText decides on its own whether to colour, from the process's streams. */
const SGR = {
  red: ["\u001b[31m", "\u001b[39m"],
  yellow: ["\u001b[33m", "\u001b[39m"],
  bold: ["\u001b[1m", "\u001b[22m"],
} as const;

/** `text` in `colour` (and bold), for a terminal. */
export function paint(text: string, colour: "red" | "yellow"): string {
  return `${SGR[colour][0]}${SGR.bold[0]}${text}${SGR.bold[1]}${SGR[colour][1]}`;
}

/** The severity label of a finding, red for ERROR and yellow for WARNING when colour is on. */
export function severityLabel(severity: "error" | "warning" | "info", style: TextStyle): string {
  const label = severity.toUpperCase();
  if (!style.colour || severity === "info") return label;
  return paint(label, severity === "error" ? "red" : "yellow");
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
