/** Values and rows to PostgreSQL COPY text format (tab-separated, `\N` for NULL, backslash escapes). */
import type { MasRowOf, MasTableName } from "../model/mas.ts";
import type { ColumnKind, ColumnSpec } from "./tables.ts";

const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** Escapes text for COPY: backslash, tab, newline and carriage return. */
export function escapeCopyText(text: string): string {
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c] as string) : text;
}

const DAY_MS = 86_400_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
/** Date prefixes ("2026-11-23T") by day number: a server's rows span a few thousand days at most. */
const dayPrefixes = new Map<number, string>();

/**
 * A Unix time in milliseconds as ISO 8601 UTC, exactly as `Date.prototype.toISOString` writes it,
 * without building a Date per value (timestamps are most of what the writer formats).
 */
export function formatTimestamp(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= 253_402_300_800_000) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    if (dayPrefixes.size > 100_000) dayPrefixes.clear();
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    dayPrefixes.set(day, prefix);
  }
  let rest = ms - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  return `${prefix}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[rest - seconds * 1000]}Z`;
}

/** Encodes one value of the given kind. Timestamps are Unix milliseconds, written in UTC. */
export function encodeCopyValue(kind: ColumnKind, value: string | number | boolean | null): string {
  if (value === null) return "\\N";
  switch (kind) {
    case "bool":
      return value ? "t" : "f";
    case "timestamptz":
      return formatTimestamp(value as number);
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
