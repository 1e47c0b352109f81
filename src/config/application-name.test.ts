import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { applicationName, runOfApplicationName } from "./application-name.ts";

describe("application names", () => {
  it("name the command and the side", () => {
    assert.equal(applicationName("migrate", "Synapse"), "syn2mas migrate (Synapse)");
    assert.equal(applicationName("dry-run", "MAS"), "syn2mas migrate --dry-run (MAS)");
    assert.equal(applicationName("check", "Synapse"), "syn2mas check (Synapse)");
    assert.equal(applicationName("verify", "MAS"), "syn2mas verify (MAS)");
    assert.equal(applicationName("rollback", "MAS"), "syn2mas rollback (MAS)");
    assert.equal(applicationName("rollback-dry-run", "Synapse"), "syn2mas rollback --dry-run (Synapse)");
  });

  it("are read back as the run they serve", () => {
    for (const run of ["check", "migrate", "dry-run", "verify", "status", "rollback", "rollback-dry-run"] as const) {
      for (const role of ["Synapse", "MAS"] as const) assert.equal(runOfApplicationName(applicationName(run, role)), run);
    }
  });

  const others: [string, string][] = [
    ["empty", ""],
    ["Synapse's", "synapse_main"],
    ["an older syn2mas", "syn2mas"],
    ["an unknown command", "syn2mas import (Synapse)"],
    ["an unknown side", "syn2mas migrate (Dendrite)"],
    ["a prefix only", "syn2mas migrate (Synapse) and more"],
  ];
  for (const [what, name] of others) {
    it(`are not mistaken for another program's: ${what}`, () => assert.equal(runOfApplicationName(name), undefined));
  }
});
