/** Tests for check's verdict: ready, blocked by N errors, or N unaccepted warnings with the exact flags. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { finding, type Finding } from "../checks/finding.ts";
import { applyPolicy, DEFAULT_POLICY } from "../checks/policy.ts";
import { exitCodeFor } from "./exit-codes.ts";
import { checkVerdict } from "./render.ts";

const error = finding("MAS_NOT_EMPTY", "m");
const otherError = finding("PEPPER_MISMATCH", "m");
const warning = finding("GUEST_USERS", "m", { count: 3 });
const otherWarning = finding("NON_EMAIL_THREEPIDS", "m");
const info = finding("APPSERVICE_USERS", "m");
const accepted = (f: Finding): Finding => ({ ...f, accepted: true });

const cases: { name: string; findings: Finding[]; status: string; exit: number; text: string; unaccepted: string[] }[] = [
  { name: "nothing found", findings: [], status: "ready", exit: 0, text: "Verdict: ready to migrate.", unaccepted: [] },
  { name: "info only", findings: [info], status: "ready", exit: 0, text: "Verdict: ready to migrate.", unaccepted: [] },
  {
    name: "every warning accepted",
    findings: [accepted(warning), accepted(otherWarning), info],
    status: "ready",
    exit: 0,
    text: "Verdict: ready to migrate (2 warnings accepted).",
    unaccepted: [],
  },
  {
    name: "one unaccepted warning",
    findings: [warning, info],
    status: "warnings",
    exit: 11,
    text: "Verdict: 1 unaccepted warning; fix it, or accept it with: --accept-warning GUEST_USERS",
    unaccepted: ["GUEST_USERS"],
  },
  {
    name: "two unaccepted warnings and an accepted one",
    findings: [warning, otherWarning, accepted(finding("NO_REHASH_SCHEME", "m"))],
    status: "warnings",
    exit: 11,
    text: "Verdict: 2 unaccepted warnings; fix them, or accept them with: --accept-warning GUEST_USERS --accept-warning NON_EMAIL_THREEPIDS",
    unaccepted: ["GUEST_USERS", "NON_EMAIL_THREEPIDS"],
  },
  {
    name: "one error",
    findings: [error, accepted(warning)],
    status: "blocked",
    exit: 10,
    text: "Verdict: blocked by 1 error; fix the errors above, then run check again.",
    unaccepted: [],
  },
  {
    name: "two errors and an unaccepted warning",
    findings: [error, otherError, warning],
    status: "blocked",
    exit: 10,
    text: "Verdict: blocked by 2 errors (and 1 unaccepted warning: --accept-warning GUEST_USERS); fix the errors above, then run check again.",
    unaccepted: ["GUEST_USERS"],
  },
];

describe("checkVerdict", () => {
  for (const c of cases) {
    it(c.name, () => {
      const verdict = checkVerdict(c.findings);
      assert.equal(verdict.text, c.text);
      assert.equal(verdict.status, c.status);
      assert.deepEqual(verdict.unacceptedWarnings, c.unaccepted);
      assert.equal(exitCodeFor("check", c.findings, DEFAULT_POLICY), c.exit, "the verdict agrees with the exit code");
    });
  }

  it("the flags it prints accept exactly the warnings that were not accepted", () => {
    const findings = [warning, otherWarning, info];
    const verdict = checkVerdict(findings);
    const flags = verdict.text.slice(verdict.text.indexOf("--accept-warning")).split(" ");
    const codes = flags.filter((_, i) => i % 2 === 1);
    const policy = { acceptedWarnings: new Set(codes), strict: false } as Parameters<typeof applyPolicy>[1];
    const after = applyPolicy(findings, policy);
    assert.equal(checkVerdict(after).status, "ready");
    assert.equal(exitCodeFor("check", after, policy), 0);
  });
});
