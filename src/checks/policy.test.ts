import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { finding, type FindingCode } from "./finding.ts";
import { judge, type FindingPolicy } from "./policy.ts";

const error = finding("FOREIGN_USER_IDS", "foreign");
const warning = finding("GUEST_USERS", "guests");
const info = finding("ENDED_SESSIONS", "ended");

const policy = (accepted: FindingCode[] | "all", strict: boolean): FindingPolicy => ({
  acceptedWarnings: accepted === "all" ? "all" : new Set(accepted),
  strict,
});

describe("judging findings with the policy", () => {
  const cases: {
    name: string;
    findings: (typeof error)[];
    policy: FindingPolicy;
    blocks: boolean;
    accepted: (boolean | undefined)[];
  }[] = [
    { name: "nothing found", findings: [], policy: policy([], true), blocks: false, accepted: [] },
    {
      name: "an error blocks, accepted warnings or not",
      findings: [error, warning],
      policy: policy("all", false),
      blocks: true,
      accepted: [undefined, true],
    },
    {
      name: "an unaccepted warning does not block without --strict",
      findings: [warning, info],
      policy: policy([], false),
      blocks: false,
      accepted: [undefined, undefined],
    },
    {
      name: "an unaccepted warning blocks with --strict",
      findings: [warning, info],
      policy: policy([], true),
      blocks: true,
      accepted: [undefined, undefined],
    },
    {
      name: "a warning accepted by code does not block with --strict",
      findings: [warning],
      policy: policy(["GUEST_USERS"], true),
      blocks: false,
      accepted: [true],
    },
    {
      name: "a warning accepted by another code still blocks with --strict",
      findings: [warning],
      policy: policy(["NON_EMAIL_THREEPIDS"], true),
      blocks: true,
      accepted: [undefined],
    },
    { name: "information never blocks", findings: [info], policy: policy([], true), blocks: false, accepted: [undefined] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const judged = judge(c.findings, c.policy);
      assert.equal(judged.blocks, c.blocks);
      assert.deepEqual(
        judged.findings.map((f) => f.code),
        c.findings.map((f) => f.code),
      );
      assert.deepEqual(
        judged.findings.map((f) => f.accepted),
        c.accepted,
      );
    });
  }
});
