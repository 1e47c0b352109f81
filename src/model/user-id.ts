/** Matrix user ids: `@<localpart>:<server_name>`, split at the first `:`. */

/** The result of reading a Synapse user id against the server being migrated. */
export type UserIdCheck = { kind: "local"; localpart: string } | { kind: "foreign"; server: string } | { kind: "malformed" };

/**
 * Classifies a user id. The localpart is kept verbatim (no case folding); MAS usernames are
 * exactly Synapse localparts. Must agree with {@link sqlIsLocalUserId}.
 */
export function checkUserId(userId: string, serverName: string): UserIdCheck {
  const colon = userId.indexOf(":");
  if (!userId.startsWith("@") || colon < 2 || colon === userId.length - 1) return { kind: "malformed" };
  const server = userId.slice(colon + 1);
  if (server !== serverName) return { kind: "foreign", server };
  return { kind: "local", localpart: userId.slice(1, colon) };
}

/** How an SQL engine spells the 1-based position of `part` in `text` (PostgreSQL's `strpos`, SQLite's `instr`). */
export interface SqlPosition {
  strpos(text: string, part: string): string;
}

/**
 * The same test as {@link checkUserId} returning "local", as an SQL boolean expression over a
 * text column, with the server name as a bind parameter; used by checks to count in SQL.
 */
export function sqlIsLocalUserId(column: string, serverParam: string, sql: SqlPosition): string {
  const colon = sql.strpos(column, "':'");
  return `(substr(${column}, 1, 1) = '@' AND ${colon} > 2 AND substr(${column}, ${colon} + 1) = ${serverParam})`;
}

/** The "well formed" half of {@link checkUserId} as an SQL boolean expression over a text column. */
export function sqlIsWellFormedUserId(column: string, sql: SqlPosition): string {
  const colon = sql.strpos(column, "':'");
  return `(substr(${column}, 1, 1) = '@' AND ${colon} > 2 AND ${colon} < length(${column}))`;
}
