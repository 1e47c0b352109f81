import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { translateLegacyArgs } from "./legacy-args.ts";

const cases: { name: string; args: string[]; expect: string[] }[] = [
  {
    name: "new-style arguments pass unchanged",
    args: ["migrate", "--config", "m.yaml"],
    expect: ["migrate", "--config", "m.yaml"],
  },
  {
    name: "advisor becomes check",
    args: ["--command=advisor", "--synapseConfigFile", "hs.yaml"],
    expect: ["check", "--synapse-config", "hs.yaml"],
  },
  {
    name: "migrate with both files and --dryRun",
    args: ["--command=migrate", "--synapseConfigFile=hs.yaml", "--masConfigFile", "mas.yaml", "--dryRun"],
    expect: ["migrate", "--synapse-config", "hs.yaml", "--config", "mas.yaml", "--dry-run"],
  },
  {
    name: "--dryRun false is a real run",
    args: ["--command", "migrate", "--dryRun", "false", "--masConfigFile", "mas.yaml"],
    expect: ["migrate", "--config", "mas.yaml"],
  },
  { name: "--dryRun=false too", args: ["--command=migrate", "--dryRun=false"], expect: ["migrate"] },
  { name: "--dryRun true", args: ["--command=migrate", "--dryRun", "true"], expect: ["migrate", "--dry-run"] },
  {
    name: "provider mappings are kept",
    args: ["--command=migrate", "--upstreamProviderMapping", "oidc-x:01JSHPZHAXC50QBKH67MH33TNF"],
    expect: ["migrate", "--upstream-provider-mapping", "oidc-x:01JSHPZHAXC50QBKH67MH33TNF"],
  },
  { name: "advisor ignores --dryRun", args: ["--command=advisor", "--dryRun"], expect: ["check"] },
];

describe("the old tool's invocations", () => {
  for (const c of cases) it(c.name, () => assert.deepEqual(translateLegacyArgs(c.args), c.expect));
  it("refuses an unknown old command", () => assert.throws(() => translateLegacyArgs(["--command=frob"]), /advisor or migrate/));
});
