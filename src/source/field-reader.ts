/**
 * Reading a batch of rows field by field, in the reader SQL's column order, whichever engine sent
 * them: PostgreSQL's COPY text (read in place, without a string per field that is not kept or an
 * object per row) or the SQLite driver's row objects. The decoders in read-rows.ts read through it.
 */
import { StringDecoder } from "node:string_decoder";
import { decodeBool, decodeFlag, decodeInt, decodeText, type RawValue } from "./decode.ts";

/** The rows of one batch, read one field after another. */
export interface FieldReader {
  /** Moves to the next row (the first one on the first call); false when the batch is done. */
  nextRow(): boolean;
  /** A text field, or null. */
  text(): string | null;
  /** A text field; `same` itself when the field holds the same text (saves a copy of repeated keys). */
  textOr(same: string | undefined): string | null;
  /** An integer field (`bigint`, `integer`), or null. */
  int(): number | null;
  /** A Synapse `smallint` flag: non-zero is true, NULL is false. */
  flag(): boolean;
  /** A `boolean` that may be NULL on old rows: only true is true. */
  bool(): boolean;
  /** Whether the field is NULL (it is read either way). */
  isNull(): boolean;
  /** Passes over `count` fields. */
  skip(count: number): void;
}

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const LETTER_N = 78;
const MINUS = 45;
const ZERO = 48;

const UNESCAPE: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\" };

/** Undoes COPY text's backslash escapes (including octal and hex bytes' ASCII forms). */
export function unescapeCopyText(field: string): string {
  return field.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, esc: string) => {
    if (esc[0] === "x") return String.fromCharCode(parseInt(esc.slice(1), 16));
    if (/^[0-7]/.test(esc)) return String.fromCharCode(parseInt(esc, 8));
    return UNESCAPE[esc] ?? esc;
  });
}

/**
 * Complete lines of PostgreSQL COPY text (tab-separated, `\N` for NULL, backslash escapes). Tabs
 * and newlines inside values are escaped, so they only ever separate fields and rows.
 */
export class CopyTextBatch implements FieldReader {
  private pos = 0;
  private lineEnd = -1;
  /** The bounds of the field last moved to by {@link nextField}. */
  private fieldStart = 0;
  private fieldStop = 0;

  /** `text` holds whole lines up to `end` (just after a newline). */
  constructor(
    private readonly text_: string,
    private readonly end: number,
  ) {}

  nextRow(): boolean {
    if (this.lineEnd >= 0) this.pos = this.lineEnd + 1;
    if (this.pos >= this.end) return false;
    this.lineEnd = this.text_.indexOf("\n", this.pos);
    return true;
  }

  /** The end of the field starting at `pos`: the next tab on this line, or the line's end. */
  private fieldEnd(): number {
    const tab = this.text_.indexOf("\t", this.pos);
    return tab >= 0 && tab < this.lineEnd ? tab : this.lineEnd;
  }

  /**
   * Moves to the next field of the line, setting its bounds; false when the line has no more
   * (fewer fields than asked for read as NULL, as a missing column).
   */
  private nextField(): boolean {
    if (this.pos > this.lineEnd) return false;
    this.fieldStart = this.pos;
    this.fieldStop = this.fieldEnd();
    this.pos = this.fieldStop + 1;
    return true;
  }

  /** Whether the current field is `\N`. */
  private fieldIsNull(): boolean {
    const start = this.fieldStart;
    return (
      this.fieldStop - start === 2 && this.text_.charCodeAt(start) === BACKSLASH && this.text_.charCodeAt(start + 1) === LETTER_N
    );
  }

  /** The current field's text, unescaped, or null. */
  private fieldText(): string | null {
    if (this.fieldIsNull()) return null;
    const raw = this.text_.slice(this.fieldStart, this.fieldStop);
    return raw.includes("\\") ? unescapeCopyText(raw) : raw;
  }

  text(): string | null {
    return this.nextField() ? this.fieldText() : null;
  }

  textOr(same: string | undefined): string | null {
    if (!this.nextField()) return null;
    // Escaped text never equals `same` unless `same` holds a backslash: then it is unescaped first.
    if (
      same !== undefined &&
      this.fieldStop - this.fieldStart === same.length &&
      this.text_.startsWith(same, this.fieldStart) &&
      !same.includes("\\")
    ) {
      return same;
    }
    return this.fieldText();
  }

  int(): number | null {
    if (this.pos > this.lineEnd) return null;
    const text = this.text_;
    const start = this.pos;
    let i = start;
    let negative = false;
    if (text.charCodeAt(i) === MINUS) {
      negative = true;
      i++;
    }
    let value = 0;
    let digits = 0;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === TAB || c === NEWLINE) break;
      const digit = c - ZERO;
      if (!(digit >= 0 && digit <= 9)) return this.intSlow();
      value = value * 10 + digit;
      digits++;
      i++;
    }
    this.pos = i + 1;
    // 15 digits always fit a double exactly; longer values take the exact path.
    if (digits === 0 || digits > 15) return decodeInt(text.slice(start, i));
    return negative ? -value : value;
  }

  /** Anything but plain digits (`\N`, a sign only, a decimal point): decoded from the field's text. */
  private intSlow(): number | null {
    this.nextField();
    return this.fieldIsNull() ? null : decodeInt(this.text_.slice(this.fieldStart, this.fieldStop));
  }

  flag(): boolean {
    if (!this.nextField()) return false;
    if (this.fieldStop - this.fieldStart === 1) return this.text_.charCodeAt(this.fieldStart) !== ZERO;
    return !this.fieldIsNull() && decodeFlag(this.text_.slice(this.fieldStart, this.fieldStop));
  }

  bool(): boolean {
    if (!this.nextField() || this.fieldStop - this.fieldStart !== 1) return false;
    const c = this.text_.charCodeAt(this.fieldStart);
    return c === 116 /* t */ || c === 49; /* 1 */
  }

  isNull(): boolean {
    return !this.nextField() || this.fieldIsNull();
  }

  skip(count: number): void {
    for (let i = 0; i < count && this.pos <= this.lineEnd; i++) this.pos = this.fieldEnd() + 1;
  }
}

/**
 * Turns chunks of COPY text into batches of whole lines, one batch per chunk (one promise per
 * batch, not per row). Chunks may split lines and multi-byte characters anywhere.
 */
export async function* copyTextBatches(chunks: AsyncIterable<Buffer>): AsyncGenerator<CopyTextBatch> {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  for await (const chunk of chunks) {
    const text = pending + decoder.write(chunk);
    const last = text.lastIndexOf("\n");
    if (last < 0) {
      pending = text;
      continue;
    }
    yield new CopyTextBatch(text, last + 1);
    pending = text.slice(last + 1);
  }
  const rest = pending + decoder.end();
  if (rest.length > 0) yield new CopyTextBatch(`${rest}\n`, rest.length + 1);
}

/** A row as a driver returns it, keyed by the reader SQL's column names. */
export type Row = Record<string, RawValue>;

/** Driver rows (SQLite's), read by column name in the order `columns` gives. */
export class RowObjectBatch implements FieldReader {
  private index = -1;
  private column = 0;
  private row: Row | undefined;

  constructor(
    private readonly rows: readonly Row[],
    private readonly columns: readonly string[],
  ) {}

  nextRow(): boolean {
    this.index++;
    this.column = 0;
    this.row = this.rows[this.index];
    return this.row !== undefined;
  }

  private next(): RawValue {
    return (this.row as Row)[this.columns[this.column++] as string];
  }

  text(): string | null {
    return decodeText(this.next());
  }

  textOr(same: string | undefined): string | null {
    const text = this.text();
    return text === same ? (same as string) : text;
  }

  int(): number | null {
    return decodeInt(this.next());
  }

  flag(): boolean {
    return decodeFlag(this.next());
  }

  bool(): boolean {
    return decodeBool(this.next());
  }

  isNull(): boolean {
    const value = this.next();
    return value === null || value === undefined;
  }

  skip(count: number): void {
    this.column += count;
  }
}
