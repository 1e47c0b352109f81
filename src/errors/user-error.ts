/** The one error type that means "the tool could not run because of its input or surroundings". */

/**
 * An error the operator can fix: an unreadable file, a refused connection, a bad flag.
 * `main.ts` prints `message` and `hint` on one line each and exits 1; no stack trace unless --debug.
 * Messages must never contain secrets (passwords, tokens, hashes, peppers).
 */
export class UserError extends Error {
  constructor(
    /** What went wrong, naming the file, key or server involved. */
    message: string,
    /** What to do about it. */
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "UserError";
  }
}
