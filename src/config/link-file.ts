/**
 * `--link-file FILE.csv`: links whose subjects cannot be computed from Synapse's rows (for example
 * user ids exported from Keycloak's admin API), one per row under the header `user_id,provider,subject`
 * (issue 15). A malformed file is refused as a whole, naming the line: a half-read file would
 * silently leave users without their link.
 */
import { readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";
import { UserError } from "../errors/user-error.ts";
import { ulidTextToUuid } from "../model/ids.ts";
import type { FileLink, FileLinks } from "../model/link-rule.ts";
import { checkUserId } from "../model/user-id.ts";

const HEADER = ["user_id", "provider", "subject"];
const FIX = "write one row per link under the header user_id,provider,subject: @alice:example.com,01JB...,<subject>";

function fileError(path: string, where: string, why: string): UserError {
  return new UserError(`--link-file ${path}${where}: ${why}`, FIX);
}

/** The rows of `text` (the file's content), checked; `path` names the file in messages. */
export function parseLinkFile(path: string, text: string): FileLinks {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: true,
      info: true,
    }) as unknown as typeof records;
  } catch (error) {
    // csv-parse says where (e.g. an unclosed quote); its message names the line, never a secret.
    const line = (error as { lines?: number }).lines;
    throw fileError(path, line === undefined ? "" : ` line ${line}`, "not valid CSV (an unclosed or stray quote?)");
  }
  const [header, ...rows] = records;
  if (header === undefined || header.record.join(",") !== HEADER.join(",")) {
    throw fileError(path, " line 1", `the header must be ${HEADER.join(",")}`);
  }
  const byUser = new Map<string, FileLink[]>();
  const seen = new Map<string, number>();
  // info.lines: the line the record ends on (a quoted subject may span lines; the file's rows do not).
  rows.forEach(({ record: cells, info }) => {
    const line = info.lines;
    const at = ` line ${line}`;
    if (cells.length !== HEADER.length) throw fileError(path, at, `${cells.length} columns instead of 3`);
    const [userId, providerText, subject] = cells as [string, string, string];
    if (checkUserId(userId, "").kind === "malformed")
      throw fileError(path, at, `"${userId}" is not a user id (@localpart:server)`);
    const providerId = ulidTextToUuid(providerText);
    if (providerId === undefined) throw fileError(path, at, `"${providerText}" is not a provider's 26-character ULID`);
    if (subject === "") throw fileError(path, at, "the subject is empty");
    const key = `${providerId}\0${subject}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) throw fileError(path, at, `the same provider and subject as line ${earlier}`);
    seen.set(key, line);
    const links = byUser.get(userId) ?? [];
    links.push({ line, userId, providerId, subject });
    byUser.set(userId, links);
  });
  return { path, byUser };
}

/** Reads and parses the file at `path`. */
export function readLinkFile(path: string): FileLinks {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new UserError(`--link-file ${path}: cannot read it (${code})`, "give the path of a readable CSV file");
  }
  return parseLinkFile(path, text);
}
