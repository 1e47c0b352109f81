import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { MappingContext } from "../mapping/context.ts";
import { skipped } from "../mapping/skip.ts";
import { ReportBuilder } from "../report/report.ts";
import type { SynapseSource } from "../source/source.ts";
import { CountingSink } from "./counting-sink.ts";
import type { Phase } from "./phases.ts";
import { runPhase } from "./run-phase.ts";

/** A phase over three batches of two rows, writing no table: each row is counted as skipped. */
function countingPhase(mapped: number[]): Phase {
  return {
    name: "numbers",
    tables: [],
    async *read() {
      for (const batch of [
        [1, 2],
        [3, 4],
        [5, 6],
      ])
        yield batch;
    },
    userOf: (row) => `@u${String(row)}:example.com`,
    map(row) {
      mapped.push(row as number);
      return skipped("refresh_tokens", "no_access_token");
    },
  };
}

const ctx: MappingContext = {
  serverName: "example.com",
  startedAt: 0,
  providers: new Map(),
  deriveId: () => {
    throw new Error("unused");
  },
};
const io = (report: ReportBuilder) => ({
  source: {} as SynapseSource,
  sink: new CountingSink(),
  ctx,
  report,
});

describe("running a phase", () => {
  it("maps every row of every batch and tallies what the mapper says", async () => {
    const mapped: number[] = [];
    const report = new ReportBuilder(true);
    assert.equal(await runPhase(countingPhase(mapped), io(report)), 6);
    assert.deepEqual(mapped, [1, 2, 3, 4, 5, 6]);
    assert.equal(report.report.skipped.refresh_tokens?.no_access_token, 6);
    assert.equal(report.report.phases[0]?.sourceRows, 6);
  });
});
