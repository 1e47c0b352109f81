/** `check`'s sink: counts the rows `migrate` would write, and writes nothing. */
import type { MasRow, MasTableName } from "../model/mas.ts";
import type { PhaseSink, RowSink } from "../target/sink.ts";

/** Counts one phase's rows per table. */
class CountingPhase implements PhaseSink {
  private readonly rows = new Map<MasTableName, number>();

  constructor(tables: readonly MasTableName[]) {
    for (const table of tables) this.rows.set(table, 0);
  }

  add(entries: readonly MasRow[]): undefined {
    for (const { table } of entries) {
      const count = this.rows.get(table);
      // As the COPY writer does: a mapper writing outside its phase's tables is a bug.
      if (count === undefined) throw new Error(`phase has no sink for table ${table}`);
      this.rows.set(table, count + 1);
    }
    return undefined;
  }

  async finish(): Promise<Map<MasTableName, number>> {
    return new Map(this.rows);
  }

  discard(): void {}
}

/** A sink that only counts: the rows go through the same mappers as `migrate`'s, then nowhere. */
export class CountingSink implements RowSink {
  openPhase(tables: readonly MasTableName[]): PhaseSink {
    return new CountingPhase(tables);
  }
}
