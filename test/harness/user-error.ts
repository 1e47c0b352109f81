/** The assertion every bad-input unit test makes: a UserError in the operator's one-line form. */
import assert from "node:assert/strict";
import { isHintForm } from "../../src/errors/hint-form.ts";
import { UserError } from "../../src/errors/user-error.ts";

/** Asserts that `fn` throws a UserError whose one-line message contains every `parts` and none of `secrets`, with a hint in the common form. */
export function assertUserError(fn: () => unknown, parts: string[], secrets: string[] = []): UserError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UserError, `expected a UserError, got ${String(caught)}`);
  for (const part of parts) assert.ok(caught.message.includes(part), `message ${JSON.stringify(caught.message)} lacks ${part}`);
  for (const secret of secrets) assert.ok(!caught.message.includes(secret), "message contains a secret");
  assert.ok(!caught.message.includes("\n"), "message is one line");
  assert.ok(isHintForm(caught.hint), `hint ${JSON.stringify(caught.hint)} is not an imperative sentence in the common form`);
  return caught;
}
