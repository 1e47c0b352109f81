/** The assertions shared by the configuration-rule tests: one code expected (or not), no secret, one paragraph. */
import assert from "node:assert/strict";
import type { Finding, FindingCode, Severity } from "../../src/checks/finding.ts";

/** What one case expects of a rule set's findings. */
export interface ExpectedFinding {
  code: FindingCode;
  /** The severity expected when it triggers; `null` for a near-miss that must not trigger. */
  severity: Severity | null;
  /** Texts the message must contain (the config key and value to set). */
  mentions?: string[];
}

/**
 * Asserts that no message holds a secret or a line break, and that `findings` has exactly one of
 * `expected.code` with its severity and mentions (or none, for a near-miss).
 */
export function assertRuleCase(findings: Finding[], expected: ExpectedFinding, secrets: readonly string[]): void {
  const found = findings.filter((f) => f.code === expected.code);
  for (const f of findings) {
    for (const secret of secrets) assert.ok(!f.message.includes(secret), `${f.code} message contains a secret`);
    assert.ok(!f.message.includes("\n"), "one paragraph");
  }
  if (expected.severity === null) {
    assert.deepEqual(found, []);
    return;
  }
  assert.equal(found.length, 1, `exactly one ${expected.code}`);
  const f = found[0] as Finding;
  assert.equal(f.severity, expected.severity);
  for (const text of expected.mentions ?? []) {
    assert.ok(f.message.includes(text), `${expected.code} message ${JSON.stringify(f.message)} lacks ${text}`);
  }
}
