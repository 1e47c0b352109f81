/**
 * A `--link` rule, parsed (config/link-rules.ts): which Synapse users get a link on which MAS
 * upstream provider, and the subject that provider will present for them (issue 15).
 */
import { dexSubject } from "./dex-subject.ts";
import type { MasId } from "./ids.ts";

export const LOCALPART_SOURCE = "localpart";

export const PLACEHOLDERS = ["external_id", "localpart", "user_id"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** What a subject template is filled with, for one user (and one external id). */
export type SubjectValues = Record<Placeholder, string>;

export interface LinkRule {
  /** `localpart`, or the `auth_provider` whose external ids are linked. */
  source: string;
  providerId: MasId;
  /** The template's literal text and placeholders, in order. */
  template: (string | { placeholder: Placeholder })[];
  /** Set for `dex:CONNECTOR:...`: the filled template is Dex's user id behind that connector. */
  dexConnector?: string;
  /** The flag as given, for messages. */
  flag: string;
}

/**
 * What a template is filled with for user `userId` (local: `@localpart:server`, split at the first
 * `:` as user-id.ts does) and, for an auth_provider's rule, one of its external ids (none for
 * `localpart`). Written once for the mappers and the checks, which must compute the same subjects.
 */
export function subjectValues(userId: string, externalId = ""): SubjectValues {
  return { external_id: externalId, localpart: userId.slice(1, userId.indexOf(":")), user_id: userId };
}

/** The subject `rule` gives for one user's values. */
export function linkSubject(rule: LinkRule, values: SubjectValues): string {
  const filled = rule.template.map((p) => (typeof p === "string" ? p : values[p.placeholder])).join("");
  return rule.dexConnector === undefined ? filled : dexSubject(filled, rule.dexConnector);
}

/** The SOURCE the report counts `--link-file` rows under. */
export const LINK_FILE_SOURCE = "link-file";

/** One row of a `--link-file`: a user, the MAS provider and the subject that provider presents for them. */
export interface FileLink {
  /** The row's line in the file, for messages. */
  line: number;
  userId: string;
  providerId: MasId;
  subject: string;
}

/** A `--link-file`'s rows by Synapse user id, and where they came from. */
export interface FileLinks {
  path: string;
  byUser: ReadonlyMap<string, readonly FileLink[]>;
}
