/**
 * The columns of every Synapse read, in the one table both engines' SELECTs and the decoders
 * (read-rows.ts) follow: adding a column is one edit here (and its read in the decoder, which
 * read-rows.test.ts checks against this table, column by column and kind by kind).
 */

/** The database engines a Synapse source reads. */
export type Engine = "postgres" | "sqlite";

/** How a column is read (the FieldReader method the decoder calls for it). */
export type ColumnKind = "text" | "int" | "flag" | "bool";

/** One column of a read: the name it gets, how it is read, and its SQL (one per engine where they differ). */
export interface ReadColumn {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly sql: string | { readonly [E in Engine]: string };
}

/** A table's column `alias.column`, named as the column unless `name` says otherwise. */
function column(sql: string, kind: ColumnKind, name = sql.slice(sql.indexOf(".") + 1)): ReadColumn {
  return { name, kind, sql };
}

/** The owner's columns, joined from `users u` (NULLs when no row matched); the users read itself selects them first. */
export const OWNER_COLUMNS: readonly ReadColumn[] = [
  column("u.name", "text", "o_name"),
  column("u.creation_ts", "int", "o_creation_ts"),
  column("u.admin", "flag", "o_admin"),
  column("u.is_guest", "flag", "o_is_guest"),
  column("u.deactivated", "flag", "o_deactivated"),
  column("u.appservice_id", "text", "o_appservice_id"),
];

/** A device's columns, from `devices d`. */
export const DEVICE_COLUMNS: readonly ReadColumn[] = [
  column("d.user_id", "text"),
  column("d.device_id", "text"),
  column("d.display_name", "text"),
  column("d.last_seen", "int"),
  column("d.ip", "text"),
  column("d.user_agent", "text"),
  column("d.hidden", "bool"),
];

/**
 * An access token's columns (`a_`, from `access_tokens a`) and its refresh token's (`r_`, from
 * `refresh_tokens r`). Whether the successor of the refresh token was used: on PostgreSQL a hash
 * join (`used_next`, which its reads join), on SQLite an index probe per paired token
 * (access_tokens_refresh_token_id_idx): the same truth.
 */
export const TOKEN_COLUMNS: readonly ReadColumn[] = [
  column("a.id", "int", "a_id"),
  column("a.user_id", "text", "a_user_id"),
  column("a.device_id", "text", "a_device_id"),
  column("a.token", "text", "a_token"),
  column("a.valid_until_ms", "int", "a_valid_until_ms"),
  column("a.puppets_user_id", "text", "a_puppets_user_id"),
  column("a.last_validated", "int", "a_last_validated"),
  column("r.id", "int", "r_id"),
  column("r.token", "text", "r_token"),
  {
    name: "r_superseded_and_used",
    kind: "bool",
    sql: {
      postgres: "(used_next.refresh_token_id IS NOT NULL)",
      sqlite: `(r.next_token_id IS NOT NULL AND EXISTS (
      SELECT 1 FROM access_tokens an WHERE an.refresh_token_id = r.next_token_id AND an.used IS TRUE))`,
    },
  },
  column("r.expiry_ts", "int", "r_expiry_ts"),
  column("r.ultimate_session_expiry_ts", "int", "r_ultimate_session_expiry_ts"),
];

/**
 * The reads every source runs, and the columns of each, in the order the decoders read them. The
 * tables they come from: `users u`, `user_threepids t`, `user_external_ids e`, `devices d`,
 * `access_tokens a`, `refresh_tokens r` (each engine's FROM names them so).
 */
export const READS = {
  users: [
    ...OWNER_COLUMNS,
    column("u.password_hash", "text"),
    column("u.locked", "bool"),
    // For --link localpart=...: users known only by their localpart have no external id (index user_external_ids_user_id_idx).
    { name: "has_external_id", kind: "bool", sql: "EXISTS (SELECT 1 FROM user_external_ids x WHERE x.user_id = u.name)" },
  ],
  threepids: [
    column("t.user_id", "text"),
    column("t.medium", "text"),
    column("t.address", "text"),
    column("t.added_at", "int"),
    ...OWNER_COLUMNS,
  ],
  externalIds: [
    column("e.user_id", "text"),
    column("e.auth_provider", "text"),
    column("e.external_id", "text"),
    ...OWNER_COLUMNS,
  ],
  devices: [...DEVICE_COLUMNS, ...OWNER_COLUMNS, ...TOKEN_COLUMNS],
  looseTokens: [...OWNER_COLUMNS, ...TOKEN_COLUMNS],
  unpairedRefreshTokens: [column("r.id", "int"), column("r.user_id", "text"), ...OWNER_COLUMNS],
} as const satisfies Record<string, readonly ReadColumn[]>;

export type ReadKind = keyof typeof READS;

/** A column's SQL expression on `engine`. */
export function columnSql(c: ReadColumn, engine: Engine): string {
  return typeof c.sql === "string" ? c.sql : c.sql[engine];
}

/** The names of a read's columns, in order (how driver rows are read, see RowObjectBatch). */
export function columnNames(kind: ReadKind): string[] {
  return READS[kind].map((c) => c.name);
}

/** `expression AS name, ...`: the select list of a read on `engine`. */
export function selectList(kind: ReadKind, engine: Engine): string {
  return READS[kind].map((c) => `${columnSql(c, engine)} AS ${c.name}`).join(",\n  ");
}
