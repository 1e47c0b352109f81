/**
 * `--link SOURCE=MAS_PROVIDER_ULID[:SUBJECT]`: which Synapse users get a link on which MAS upstream
 * provider, and the subject that provider will present for them (issue 15). SOURCE is a Synapse
 * `auth_provider` (each of its external ids becomes a link) or `localpart` (users known only by their
 * localpart: LDAP, JWT and password-module users). SUBJECT is a template over `{external_id}`,
 * `{localpart}` and `{user_id}`, or `dex:CONNECTOR:TEMPLATE` for Dex's encoding of the template's value.
 */
import { UserError } from "../errors/user-error.ts";
import { ulidTextToUuid } from "../model/ids.ts";
import { LOCALPART_SOURCE, PLACEHOLDERS, type LinkRule, type Placeholder } from "../model/link-rule.ts";

export { LOCALPART_SOURCE, type LinkRule };

function linkError(flag: string, why: string): UserError {
  return new UserError(
    `--link "${flag}": ${why}`,
    "write SOURCE=MAS_PROVIDER_ULID[:SUBJECT], e.g. --link saml=01JB...:dex:saml:{external_id} or --link localpart=01JB...",
  );
}

/** Splits a template into literal text and placeholders; an unknown `{name}` or a lone brace is an error. */
function parseTemplate(flag: string, text: string): LinkRule["template"] {
  const parts: LinkRule["template"] = [];
  const pattern = /\{([^{}]*)\}/g;
  let last = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const name = match[1] as string;
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw linkError(flag, `unknown placeholder {${name}} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(", ")})`);
    }
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push({ placeholder: name as Placeholder });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  if (parts.some((p) => typeof p === "string" && /[{}]/.test(p))) throw linkError(flag, "a brace outside a placeholder");
  if (!parts.some((p) => typeof p !== "string"))
    throw linkError(flag, "the subject has no placeholder: every user would get the same one");
  return parts;
}

/** The `--link` flags by SOURCE; one SOURCE given twice is an error (which would win is not obvious). */
export function linkRulesOf(flags: readonly string[]): Map<string, LinkRule> {
  const rules = new Map<string, LinkRule>();
  for (const flag of flags) {
    const rule = parseLinkFlag(flag);
    const earlier = rules.get(rule.source);
    if (earlier !== undefined) throw linkError(flag, `SOURCE ${rule.source} is already linked by --link "${earlier.flag}"`);
    rules.set(rule.source, rule);
  }
  return rules;
}

/** Parses one `--link` value. */
export function parseLinkFlag(flag: string): LinkRule {
  const equals = flag.indexOf("=");
  if (equals <= 0) throw linkError(flag, "no SOURCE= before the provider");
  const source = flag.slice(0, equals);
  const rest = flag.slice(equals + 1);
  const colon = rest.indexOf(":");
  const idText = colon < 0 ? rest : rest.slice(0, colon);
  const providerId = ulidTextToUuid(idText);
  if (providerId === undefined) throw linkError(flag, `"${idText}" is not a provider's 26-character ULID`);
  let subject = colon < 0 ? "" : rest.slice(colon + 1);
  let dexConnector: string | undefined;
  if (subject.startsWith("dex:")) {
    const connectorEnd = subject.indexOf(":", 4);
    dexConnector = connectorEnd < 0 ? subject.slice(4) : subject.slice(4, connectorEnd);
    if (dexConnector === "") throw linkError(flag, "dex: needs a connector id (dex:CONNECTOR:TEMPLATE)");
    subject = connectorEnd < 0 ? "" : subject.slice(connectorEnd + 1);
  }
  if (subject === "") subject = source === LOCALPART_SOURCE ? "{localpart}" : "{external_id}";
  const template = parseTemplate(flag, subject);
  if (source === LOCALPART_SOURCE && template.some((p) => typeof p !== "string" && p.placeholder === "external_id")) {
    throw linkError(flag, "localpart users have no external id: use {localpart} or {user_id}");
  }
  return { source, providerId, template, ...(dexConnector === undefined ? {} : { dexConnector }), flag };
}
