import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { finding, type Finding } from "../checks/finding.ts";
import { applyPolicy, parseAcceptedWarnings, type FindingPolicy } from "../checks/policy.ts";
import { UserError } from "../errors/user-error.ts";
import { exitCodeFor } from "./exit-codes.ts";

const error = finding("MAS_NOT_EMPTY", "m");
const warning = finding("GUEST_USERS", "m");
const otherWarning = finding("NON_EMAIL_THREEPIDS", "m");
const info = finding("APPSERVICE_USERS", "m");
const none: FindingPolicy = { acceptedWarnings: new Set(), strict: false };

const cases: { name: string; command: "check" | "migrate"; findings: Finding[]; policy?: FindingPolicy; expect: number }[] = [
  { name: "check, nothing", command: "check", findings: [], expect: 0 },
  { name: "check, info only", command: "check", findings: [info], expect: 0 },
  { name: "check, a warning", command: "check", findings: [warning, info], expect: 11 },
  {
    name: "check, the warning accepted",
    command: "check",
    findings: [warning],
    policy: { acceptedWarnings: new Set(["GUEST_USERS"]), strict: false },
    expect: 0,
  },
  {
    name: "check, one of two warnings accepted",
    command: "check",
    findings: [warning, otherWarning],
    policy: { acceptedWarnings: new Set(["GUEST_USERS"]), strict: false },
    expect: 11,
  },
  {
    name: "check, all warnings accepted",
    command: "check",
    findings: [warning, otherWarning],
    policy: { acceptedWarnings: "all", strict: false },
    expect: 0,
  },
  { name: "check, an error beats warnings", command: "check", findings: [warning, error], expect: 10 },
  {
    name: "check, accepting does not hide an error",
    command: "check",
    findings: [error],
    policy: { acceptedWarnings: "all", strict: false },
    expect: 10,
  },
  { name: "migrate, a warning does not block", command: "migrate", findings: [warning], expect: 0 },
  {
    name: "migrate --strict, an unaccepted warning blocks",
    command: "migrate",
    findings: [warning],
    policy: { acceptedWarnings: new Set(), strict: true },
    expect: 10,
  },
  {
    name: "migrate --strict, an accepted warning does not",
    command: "migrate",
    findings: [warning],
    policy: { acceptedWarnings: new Set(["GUEST_USERS"]), strict: true },
    expect: 0,
  },
  { name: "migrate, an error blocks", command: "migrate", findings: [error, info], expect: 10 },
  {
    name: "migrate --strict, info never blocks",
    command: "migrate",
    findings: [info],
    policy: { acceptedWarnings: new Set(), strict: true },
    expect: 0,
  },
];

describe("exit codes", () => {
  for (const c of cases) {
    it(c.name, () => {
      const policy = c.policy ?? none;
      assert.equal(exitCodeFor(c.command, applyPolicy(c.findings, policy), policy), c.expect);
    });
  }
  it("accepts only known warning codes", () => {
    assert.deepEqual(parseAcceptedWarnings(["guest_users"], false), new Set(["GUEST_USERS"]));
    assert.equal(parseAcceptedWarnings([], true), "all");
    assert.throws(() => parseAcceptedWarnings(["NOPE"], false), UserError);
    assert.throws(() => parseAcceptedWarnings(["MAS_NOT_EMPTY"], false), /an error, not a warning/);
  });
});
