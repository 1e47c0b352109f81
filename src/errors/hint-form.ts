/** The one form of every hint (the `fix:` part of an error line): an imperative sentence for the operator. */

/**
 * Verbs a hint may start with. Every hint starts with one of these in lower case, has no final period
 * and no "fix:" of its own (the error line adds it), and is one line.
 */
export const HINT_VERBS = [
  "accept",
  "add",
  "ask",
  "check",
  "choose",
  "correct",
  "create",
  "give",
  "grant",
  "install",
  "keep",
  "make",
  "move",
  "pass",
  "point",
  "quote",
  "remove",
  "rename",
  "rerun",
  "restore",
  "run",
  "see",
  "set",
  "start",
  "stop",
  "turn",
  "upgrade",
  "use",
  "wait",
  "write",
] as const;

/** Whether `hint` has the form every hint has (see {@link HINT_VERBS}). */
export function isHintForm(hint: string): boolean {
  const first = /^[a-z]+/.exec(hint)?.[0];
  return (
    first !== undefined &&
    (HINT_VERBS as readonly string[]).includes(first) &&
    !hint.endsWith(".") &&
    !/\bfix:/i.test(hint) &&
    !hint.includes("\n")
  );
}

/**
 * A hint in the printed form: first letter in lower case (unless the first word is a name such as MAS),
 * no final period. Keeps hints from every part of the tool alike on the `(fix: ...)` line and in JSON.
 */
export function hintText(hint: string): string {
  const trimmed = hint.trim().replace(/\.$/, "");
  const first = /^[A-Z][a-z]+\b/.exec(trimmed)?.[0];
  return first === undefined || PROPER_NAMES.has(first) ? trimmed : trimmed[0]!.toLowerCase() + trimmed.slice(1);
}

/** Capitalised words a hint may start with that are names, not verbs (kept as they are). */
const PROPER_NAMES = new Set(["Synapse", "Matrix", "Kubernetes", "Docker", "Postgres"]);
