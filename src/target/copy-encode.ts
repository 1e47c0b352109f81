/** Values and rows to PostgreSQL COPY text format (tab-separated, `\N` for NULL, backslash escapes). */
import type { MasRowOf, MasTableName } from "../model/mas.ts";
import type { ColumnKind, ColumnSpec } from "./tables.ts";

const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** Escapes text for COPY: backslash, tab, newline and carriage return. */
export function escapeCopyText(text: string): string {
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c] as string) : text;
}

/** Encodes one value of the given kind. Timestamps are Unix milliseconds, written in UTC. */
export function encodeCopyValue(kind: ColumnKind, value: string | number | boolean | null): string {
  if (value === null) return "\\N";
  switch (kind) {
    case "bool":
      return value ? "t" : "f";
    case "timestamptz":
      return new Date(value as number).toISOString();
    case "int":
      return String(value);
    case "uuid":
    case "inet":
      return String(value);
    case "text":
      // NUL cannot be stored in a PostgreSQL text value at all; the reader never yields one.
      return escapeCopyText(String(value));
  }
}

/** Encodes one row as a COPY text line, newline included. */
export function encodeCopyRow<T extends MasTableName>(columns: ColumnSpec<T>[], row: MasRowOf<T>): string {
  let line = "";
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i] as ColumnSpec<T>;
    if (i > 0) line += "\t";
    line += encodeCopyValue(column.kind, column.get(row));
  }
  return line + "\n";
}
