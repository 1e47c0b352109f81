/**
 * The `--link` and `--link-file` checks (issue 15): which links the run would make, before any is
 * written. Two users given the same (provider, subject) is an error (MAS keeps that pair unique,
 * so the load would fail at its index); a SOURCE that matches no row, `--link-file` rows naming
 * users that are not migrated, and users left with no way to log in are warnings.
 */
import { uuidToUlidText, type MasId } from "../model/ids.ts";
import { LOCALPART_SOURCE, linkSubject, subjectValues, type FileLink, type LinkRule } from "../model/link-rule.ts";
import { checkUserId } from "../model/user-id.ts";
import {
  anyLocalpartLinkedUser,
  linkedExternalIdPages,
  localpartLinkedUserPages,
  migratedUsersAmong,
  usersWithoutLogin,
} from "../source/link-rows.ts";
import { authProvidersInUse } from "../source/synapse-stats.ts";
import type { CheckContext } from "./context.ts";
import { finding, MAX_EXAMPLES, type Finding } from "./finding.ts";

/** Where one provider's links come from: a rule (a `--link`, or a mapped auth_provider), or the link file. */
interface Feeder {
  label: string;
  /** No two of its rows can share a subject (so alone on its provider it cannot collide). */
  distinct: boolean;
  /** Its links, page by page (read again for each pass). */
  pages(): AsyncIterable<{ subject: string; userId: string }[]>;
}

/**
 * A 53-bit hash of a subject (two FNV-1a lanes over its UTF-16 units): the first pass keeps 8 bytes
 * per link instead of the subjects; equal subjects hash equal, and the rare different subjects
 * that share a hash are told apart by the second pass.
 */
export function subjectHash(subject: string): number {
  let low = 0x811c9dc5;
  let high = 0x2f6b1a3d;
  for (let i = 0; i < subject.length; i++) {
    const unit = subject.charCodeAt(i);
    low = Math.imul(low ^ unit, 0x01000193) >>> 0;
    high = Math.imul(high ^ unit, 0x5bd1e995) >>> 0;
  }
  return (high & 0x1fffff) * 0x100000000 + low;
}

/**
 * A rule's subjects are distinct when its template holds one placeholder that differs from row
 * to row: the external id (unique per auth_provider in Synapse) for an auth_provider's ids, or the
 * localpart or user id for `localpart` (each of its users is linked once). Dex's encoding keeps that.
 */
function distinctSubjects(rule: LinkRule): boolean {
  const placeholders = rule.template.filter((p) => typeof p !== "string");
  if (placeholders.length !== 1) return false;
  return rule.source === LOCALPART_SOURCE || placeholders[0]?.placeholder === "external_id";
}

/** Each auth_provider in use mapped to a MAS provider without a `--link`: the plain rule it amounts to. */
function plainMappings(input: CheckContext, used: ReadonlyMap<string, number> | undefined): Map<string, MasId> {
  const plain = new Map<string, MasId>();
  for (const [authProvider, id] of input.providers) {
    if ((used === undefined || used.has(authProvider)) && !input.links?.has(authProvider)) plain.set(authProvider, id);
  }
  return plain;
}

/** The MAS providers that `--link` rules or the link file feed. */
function linkedProviders(input: CheckContext): Set<MasId> {
  const ids = new Set<MasId>([...(input.links?.values() ?? [])].map((r) => r.providerId));
  for (const rows of input.fileLinks?.byUser.values() ?? []) for (const row of rows) ids.add(row.providerId);
  return ids;
}

/**
 * The mapped auth_providers whose MAS provider no `--link` or link file feeds: DUPLICATE_ROWS
 * judges those in SQL (findings-sql.ts sharedUpstreamSubjects); the rest are LINK_COLLISION's.
 */
export async function mappingsWithoutLinks(input: CheckContext): Promise<Map<string, MasId>> {
  // A delta looks for collisions with every user: each mapping counts as used (a few more providers looked at).
  const used = input.onlyUsers === undefined ? await authProvidersInUse(input.synapseDb, input.synapse.serverName) : undefined;
  const linked = linkedProviders(input);
  return new Map([...plainMappings(input, used)].filter(([, id]) => !linked.has(id)));
}

function ruleFeeder(input: CheckContext, rule: LinkRule, label: string): Feeder {
  const { synapseDb: db, synapse } = input;
  return {
    label,
    distinct: distinctSubjects(rule),
    pages: async function* () {
      if (rule.source === LOCALPART_SOURCE) {
        for await (const users of localpartLinkedUserPages(db, synapse.serverName)) {
          yield users.map(({ name }) => ({
            userId: name,
            subject: linkSubject(rule, subjectValues(name)),
          }));
        }
        return;
      }
      for await (const ids of linkedExternalIdPages(db, synapse.serverName, rule.source)) {
        yield ids.map((e) => ({
          userId: e.user_id,
          subject: linkSubject(rule, subjectValues(e.user_id, e.external_id)),
        }));
      }
    },
  };
}

/** Every MAS provider with what feeds it. */
function feedersByProvider(
  input: CheckContext,
  used: ReadonlyMap<string, number>,
  migratedFileLinks: readonly FileLink[],
): Map<MasId, Feeder[]> {
  const byProvider = new Map<MasId, Feeder[]>();
  const add = (id: MasId, feeder: Feeder) => byProvider.set(id, [...(byProvider.get(id) ?? []), feeder]);
  for (const rule of input.links?.values() ?? []) add(rule.providerId, ruleFeeder(input, rule, `--link ${rule.flag}`));
  for (const [authProvider, id] of plainMappings(input, used)) {
    const plain: LinkRule = { source: authProvider, providerId: id, template: [{ placeholder: "external_id" }], flag: "" };
    add(id, ruleFeeder(input, plain, `${authProvider}'s external ids (synapse_idp_id)`));
  }
  const fileRows = new Map<MasId, FileLink[]>();
  for (const row of migratedFileLinks) fileRows.set(row.providerId, [...(fileRows.get(row.providerId) ?? []), row]);
  for (const [id, rows] of fileRows) {
    // The file's own duplicates were refused when it was read (config/link-file.ts).
    const label = `--link-file ${input.fileLinks?.path}`;
    const links = rows.map((r) => ({ userId: r.userId, subject: r.subject }));
    add(id, {
      label,
      distinct: true,
      pages: async function* () {
        yield links;
      },
    });
  }
  return byProvider;
}

/** The hashes that two of the feeders' links share: the only subjects that can have been given twice. */
async function sharedHashes(feeders: readonly Feeder[]): Promise<Set<number>> {
  const hashes: number[] = [];
  for (const feeder of feeders)
    for await (const page of feeder.pages()) for (const link of page) hashes.push(subjectHash(link.subject));
  const sorted = Float64Array.from(hashes).sort();
  const shared = new Set<number>();
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) shared.add(sorted[i] as number);
  return shared;
}

/**
 * LINK_COLLISION for one provider: subjects its feeders give twice, with the two users (never the
 * subject). Two passes keep memory small at a million links: hashes first, then the subjects of
 * the links whose hash is shared.
 */
async function collisionsOn(id: MasId, feeders: readonly Feeder[]): Promise<Finding | undefined> {
  const first = feeders[0];
  if (first === undefined || (feeders.length === 1 && first.distinct)) return undefined;
  const shared = await sharedHashes(feeders);
  if (shared.size === 0) return undefined;
  const seen = new Map<string, { userId: string; label: string }>();
  const pairs: string[] = [];
  const labels = new Set<string>();
  for (const feeder of feeders) {
    for await (const page of feeder.pages()) {
      for (const { subject, userId } of page) {
        if (!shared.has(subjectHash(subject))) continue;
        const earlier = seen.get(subject);
        if (earlier === undefined) {
          seen.set(subject, { userId, label: feeder.label });
          continue;
        }
        pairs.push(earlier.userId === userId ? `${userId} twice` : [earlier.userId, userId].sort().join(" and "));
        labels.add(earlier.label).add(feeder.label);
      }
    }
  }
  if (pairs.length === 0) return undefined;
  return finding(
    "LINK_COLLISION",
    `${pairs.length} subjects on the MAS provider ${uuidToUlidText(id)} would each link two users (or one user twice), from ` +
      `${[...labels].join(" and ")}, e.g. ${pairs[0]}. MAS keeps one link per provider and subject, so the migration would fail ` +
      "at MAS's unique index. Give each SOURCE its own MAS provider, or a SUBJECT that keeps {external_id}, or correct the " +
      "link file's rows; then run check again.",
    { count: pairs.length, examples: pairs.slice(0, MAX_EXAMPLES) },
  );
}

/** LINK_SOURCE_UNUSED: a `--link` whose SOURCE has no row to link. */
async function unusedSources(input: CheckContext, used: ReadonlyMap<string, number>): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const rule of input.links?.values() ?? []) {
    const none =
      rule.source === LOCALPART_SOURCE
        ? !(await anyLocalpartLinkedUser(input.synapseDb, input.synapse.serverName))
        : !used.has(rule.source);
    if (!none) continue;
    const what =
      rule.source === LOCALPART_SOURCE
        ? "no migrated user who is neither a guest nor deactivated is without an external id"
        : `no migrated user has an external id with auth_provider "${rule.source}" (Synapse's user_external_ids)`;
    findings.push(
      finding(
        "LINK_SOURCE_UNUSED",
        `--link ${rule.flag} links nothing: ${what}. Check the SOURCE's spelling (an auth_provider such as saml, cas or ` +
          "oidc-<idp_id>, or localpart), or leave the flag out.",
        { count: 0, examples: [rule.source] },
      ),
    );
  }
  return findings;
}

/** LINK_FILE_UNMIGRATED_USERS, and the file's rows that will be written. */
async function fileRows(input: CheckContext): Promise<{ findings: Finding[]; migrated: FileLink[] }> {
  const file = input.fileLinks;
  if (file === undefined) return { findings: [], migrated: [] };
  const users = await migratedUsersAmong(input.synapseDb, input.synapse.serverName, [...file.byUser.keys()]);
  const rows = [...file.byUser.values()].flat().sort((a, b) => a.line - b.line);
  const left = rows.filter((r) => !users.has(r.userId));
  const migrated = rows.filter((r) => users.has(r.userId));
  if (left.length === 0) return { findings: [], migrated };
  const why = (userId: string) =>
    checkUserId(userId, input.synapse.serverName).kind === "foreign" ? "another server's user" : "not a migrated user";
  return {
    migrated,
    findings: [
      finding(
        "LINK_FILE_UNMIGRATED_USERS",
        `${left.length} rows of --link-file ${file.path} name users this migration does not create (absent from Synapse, ` +
          `another server's, or an application service's), e.g. line ${left[0]?.line}: ${left[0]?.userId} (${why(left[0]?.userId ?? "")}). ` +
          "Their links are not written. Correct the user ids (@localpart:" +
          `${input.synapse.serverName}) or remove those rows.`,
        { count: left.length, examples: left.slice(0, MAX_EXAMPLES).map((r) => `${r.userId} (line ${r.line})`) },
      ),
    ],
  };
}

/** The `--link` / `--link-file` findings that run before anything is written (collisions block). */
export async function linkBlockingRules(input: CheckContext): Promise<Finding[]> {
  if ((input.links?.size ?? 0) === 0 && input.fileLinks === undefined) return [];
  const used = await authProvidersInUse(input.synapseDb, input.synapse.serverName);
  const file = await fileRows(input);
  const byProvider = feedersByProvider(input, used, file.migrated);
  const collisions: Finding[] = [];
  // Providers only mapped auth_providers feed are DUPLICATE_ROWS's (mappingsWithoutLinks).
  const linked = linkedProviders(input);
  for (const [id, feeders] of byProvider) {
    if (!linked.has(id)) continue;
    const found = await collisionsOn(id, feeders);
    if (found !== undefined) collisions.push(found);
  }
  return [...collisions, ...(await unusedSources(input, used)), ...file.findings];
}

/** USERS_WITHOUT_LOGIN: migrated users MAS will let in neither by password nor through an upstream provider. */
export async function usersWithoutLoginRule(input: CheckContext): Promise<Finding[]> {
  // --link localpart links every such user who has no external id; those who have one are linked through it or are an error.
  if (input.links?.has(LOCALPART_SOURCE)) return [];
  const used = await authProvidersInUse(input.synapseDb, input.synapse.serverName);
  const linked = [...used.keys()].filter((p) => input.links?.has(p) || input.providers.has(p));
  const fileUsers = new Set(input.fileLinks?.byUser.keys() ?? []);
  const { synapseDb: db, synapse } = input;
  let sample = await usersWithoutLogin(db, synapse.serverName, linked, MAX_EXAMPLES);
  if (fileUsers.size > 0 && sample.count > 0) {
    // The link file links some of them: read them all, and leave those out.
    const all = await usersWithoutLogin(db, synapse.serverName, linked, sample.count);
    const rest = all.examples.filter((u) => !fileUsers.has(u));
    sample = { count: rest.length, examples: rest.slice(0, MAX_EXAMPLES) };
  }
  if (sample.count === 0) return [];
  return [
    finding(
      "USERS_WITHOUT_LOGIN",
      `${sample.count} users will have no way to log in to MAS: no password MAS can verify, no upstream link, and they are ` +
        "neither guests nor deactivated (for example users of an LDAP or other password module, or of JWT logins, which " +
        "Synapse knows only by their localpart). Link them with --link localpart=MAS_PROVIDER_ULID[:SUBJECT] or a --link-file, " +
        "or accept this if they are meant to reset their password through MAS.",
      { count: sample.count, examples: sample.examples },
    ),
  ];
}
