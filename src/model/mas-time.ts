/** The range of times MAS can hold (see mapping/time.ts for what is done with the others). */

/** The latest time MAS can be given: 9999-12-31T23:59:59.999Z, in ms. */
export const MAX_MAS_TIME_MS = 253_402_300_799_999;
/** The latest `users.creation_ts` (seconds) whose milliseconds are still a MAS time. */
export const MAX_MAS_TIME_S = Math.floor(MAX_MAS_TIME_MS / 1000);
