import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { FINDING_CODES } from "./finding.ts";

const checksSpec = readFileSync(fileURLToPath(new URL("../../docs/spec/checks.md", import.meta.url)), "utf8");

describe("finding codes", () => {
  it("are exactly the codes of checks.md, with their severities", () => {
    const rows = [...checksSpec.matchAll(/^\| ([A-Z_ /]+) \| ([EWI]) \|/gm)];
    const spec = new Map<string, string>();
    for (const [, codes, sev] of rows) {
      for (const code of (codes as string).split("/").map((c) => c.trim())) {
        spec.set(code, { E: "error", W: "warning", I: "info" }[sev as "E" | "W" | "I"]);
      }
    }
    assert.equal(spec.size, 54);
    assert.deepEqual(new Map(Object.entries(FINDING_CODES)), spec);
  });
});
