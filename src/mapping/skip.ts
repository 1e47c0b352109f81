/** The outcome of mapping one Synapse row: MAS rows to write, rows skipped with a reason, notes. */
import type { MasRow } from "../model/mas.ts";

/** What the report counts, one name per kind of Synapse row. */
export type Entity =
  "users" | "passwords" | "emails" | "unsupported_threepids" | "external_ids" | "devices" | "access_tokens" | "refresh_tokens";

/** Why a Synapse row is not migrated. Stable strings: they appear in the JSON report. */
export type SkipReason =
  | "appservice_user"
  | "foreign_user_id"
  | "malformed_user_id"
  | "orphan_row"
  | "deactivated_user"
  | "guest_user"
  | "no_password_hash"
  | "unusable_password_hash"
  | "unmapped_provider"
  | "hidden_device"
  | "missing_device"
  | "puppet_token"
  | "superseded_refresh_pair"
  | "ended_session"
  | "no_access_token";

/** Something about a migrated row worth counting that is not a skip. */
export type NoteKind = "unparsable_ip_stored_as_null" | "deviceless_token_own_session" | "session_limit_not_enforced";

export interface Skip {
  entity: Entity;
  reason: SkipReason;
}

export interface Note {
  entity: Entity;
  note: NoteKind;
}

/** Rows, skips and notes produced from one Synapse row (or one device with its tokens). */
export interface MappingResult {
  rows: MasRow[];
  skips: Skip[];
  notes: Note[];
  /** The SOURCE (`auth_provider`, `localpart`, `link-file`) of each `upstream_oauth_links` row in `rows`, for the report. */
  linkSources?: string[];
}

/** An empty result to fill in. */
export function emptyResult(): MappingResult {
  return { rows: [], skips: [], notes: [] };
}

/** A result that only skips one row. */
export function skipped(entity: Entity, reason: SkipReason): MappingResult {
  return { rows: [], skips: [{ entity, reason }], notes: [] };
}
