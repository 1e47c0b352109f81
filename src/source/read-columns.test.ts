import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { FieldReader } from "./field-reader.ts";
import { columnSql, READS, selectList, type ColumnKind, type ReadKind } from "./read-columns.ts";
import {
  devicesFrom,
  externalIdsFrom,
  looseTokensFrom,
  threepidsFrom,
  unpairedRefreshTokensFrom,
  usersFrom,
  type FieldBatches,
} from "./read-rows.ts";

/** What a decoder did with one field: read it as a kind, asked only whether it is NULL, or passed over it. */
type Access = ColumnKind | "null?" | "skipped";

/**
 * A batch of `rows` rows that answers every read with a value (or, `nulls`, with NULL) and
 * records, per row, what the decoder did with each field in turn. `textOr` gives back the text it
 * is offered, so that a device's second row takes the decoder's "same device" path.
 */
class RecordingReader implements FieldReader {
  readonly rows: Access[][] = [];
  private left: number;

  constructor(
    rows: number,
    private readonly nulls: boolean,
  ) {
    this.left = rows;
  }

  private record(access: Access): void {
    (this.rows[this.rows.length - 1] as Access[]).push(access);
  }

  nextRow(): boolean {
    if (this.left-- <= 0) return false;
    this.rows.push([]);
    return true;
  }
  text(): string | null {
    this.record("text");
    return this.nulls ? null : "@a:example.com";
  }
  textOr(same: string | undefined): string | null {
    this.record("text");
    return this.nulls ? null : (same ?? "@a:example.com");
  }
  int(): number | null {
    this.record("int");
    return this.nulls ? null : 1;
  }
  flag(): boolean {
    this.record("flag");
    return !this.nulls;
  }
  bool(): boolean {
    this.record("bool");
    return !this.nulls;
  }
  isNull(): boolean {
    this.record("null?");
    return this.nulls;
  }
  skip(count: number): void {
    for (let i = 0; i < count; i++) this.record("skipped");
  }
}

const DECODERS: Record<ReadKind, (batches: FieldBatches) => AsyncIterable<unknown[]>> = {
  users: usersFrom,
  threepids: threepidsFrom,
  externalIds: externalIdsFrom,
  devices: devicesFrom,
  looseTokens: looseTokensFrom,
  unpairedRefreshTokens: unpairedRefreshTokensFrom,
};

/** The accesses `kind`'s decoder makes over `rows` rows of values (or of NULLs). */
async function accesses(kind: ReadKind, rows: number, nulls: boolean): Promise<Access[][]> {
  const reader = new RecordingReader(rows, nulls);
  async function* one(): AsyncGenerator<FieldReader> {
    yield reader;
  }
  for await (const _ of DECODERS[kind](one())) {
    // decoded values are not the point here
  }
  return reader.rows;
}

/** Whether a field read as `access` fits a column of `kind`. */
function fits(access: Access, kind: ColumnKind): boolean {
  return access === kind || access === "null?" || access === "skipped";
}

describe("every decoder reads its read's columns (read-columns.ts), in order and by kind", () => {
  for (const kind of Object.keys(READS) as ReadKind[]) {
    const columns = READS[kind];
    it(`${kind}: a row of values is read field by field, each as its column's kind, every column once`, async () => {
      const [first, second] = await accesses(kind, 2, false);
      // A NULL test stands for a read of any kind (the owner's name, before its other columns are read).
      assert.deepEqual(
        first?.map((access, i) => `${columns[i]?.name ?? "(no such column)"}: ${access === "null?" ? columns[i]?.kind : access}`),
        columns.map((c) => `${c.name}: ${c.kind}`),
      );
      // The next row (for devices, a further token of the same device: its device and owner passed over).
      assert.equal(second?.length, columns.length);
      second?.forEach((access, i) =>
        assert.ok(fits(access, (columns[i] as (typeof columns)[number]).kind), `${kind} row 2, field ${i}: ${access}`),
      );
    });
    it(`${kind}: a row of NULLs reads no more fields than there are, each as its column's kind`, async () => {
      const rows = await accesses(kind, 2, true);
      for (const row of rows) {
        assert.ok(row.length <= columns.length, `${row.length} fields read of ${columns.length}`);
        row.forEach((access, i) =>
          assert.ok(
            fits(access, (columns[i] as (typeof columns)[number]).kind),
            `${kind} field ${i} (${columns[i]?.name}): ${access}`,
          ),
        );
      }
    });
  }
});

describe("the reads' SQL, from the same table", () => {
  it("selects every column under its name, in order, on both engines", () => {
    for (const kind of Object.keys(READS) as ReadKind[]) {
      for (const engine of ["postgres", "sqlite"] as const) {
        const names = [...selectList(kind, engine).matchAll(/ AS (\w+)(?:,|$)/g)].map((m) => m[1]);
        assert.deepEqual(
          names,
          READS[kind].map((c) => c.name),
          `${kind} on ${engine}`,
        );
      }
    }
  });
  it("says per engine where the engines differ: the refresh token's used successor", () => {
    const superseded = READS.devices.find((c) => c.name === "r_superseded_and_used");
    assert.ok(superseded !== undefined);
    assert.match(columnSql(superseded, "postgres"), /used_next\.refresh_token_id/);
    assert.match(columnSql(superseded, "sqlite"), /EXISTS/);
  });
});
