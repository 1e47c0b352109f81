/**
 * Upstream provider stubs for the users Synapse logged in without OpenID Connect (SAML, CAS, an LDAP or other
 * password module, JWT), and the `--link` flag that carries each group's accounts over to its stub (issue 15).
 * MAS speaks only OIDC upstream, so each stub is an OIDC provider (Dex with the connector the source needs, CAS's
 * own OIDC endpoint, or the issuer of the JWTs), written commented out: MAS starts without it until it is filled in.
 */
import { LOCALPART_SOURCE } from "../../model/link-rule.ts";
import { isAuthModule, moduleNames, sectionEnabledByDefault, sectionEnabledExplicitly } from "../synapse-semantics.ts";
import { claimTemplate } from "./claims.ts";
import { linkFlag, type ConversionReport } from "./report.ts";
import { newUlid } from "./secrets.ts";
import { yamlText } from "./yaml.ts";
import { withoutUndefined, type ConfigView, type Mapping } from "../yaml-source.ts";

/** Which identity source a stub serves. */
export type StubKind = "saml" | "cas" | "ldap" | "module" | "jwt";

/** One commented upstream provider of the generated configuration, and how its users are linked to it. */
export interface LinkStub {
  kind: StubKind;
  /** The Synapse setting whose users it serves, as the report names it (`saml2_config`, `modules`, ...). */
  setting: string;
  /** The MAS provider, with a fresh ULID as `id` and `<...>` placeholders for what the operator must fill in. */
  provider: Mapping;
  /** What the provider is, in a few words, for the report (`Dex with its SAML connector "saml"`). */
  summary: string;
  /** What to set up so that the provider presents the subjects the link flag computes. */
  notes: string[];
  /**
   * The `--link` value (SOURCE=ULID[:SUBJECT]) linking these users to the stub; undefined for JWT when a password
   * module's stub already takes SOURCE `localpart`, which only one `--link` may name.
   */
  link: string | undefined;
}

/** Placeholders: not valid URLs or ids, so that a stub left unfilled fails loudly instead of half-working. */
const DEX_ISSUER = "https://<dex host>/dex";
const CLIENT_ID = "<client id registered for MAS>";
const CLIENT_SECRET = "<its client secret>";

/** Dex's connector ids the link subjects are encoded with (the `id` of the connector in Dex's configuration). */
export const DEX_SAML_CONNECTOR = "saml";
export const DEX_LDAP_CONNECTOR = "ldap";

/** The provider settings every stub shares. */
function provider(fields: { synapseIdpId?: string; humanName: string; issuer: string; localpartTemplate: string }): Mapping {
  return withoutUndefined({
    id: newUlid(),
    synapse_idp_id: fields.synapseIdpId,
    human_name: fields.humanName,
    issuer: fields.issuer,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    token_endpoint_auth_method: "client_secret_basic",
    scope: "openid profile email",
    discovery_mode: "oidc",
    claims_imports: { localpart: { action: "require", template: fields.localpartTemplate } },
  });
}

function idOf(stubProvider: Mapping): string {
  return stubProvider["id"] as string;
}

/** A string at `keyPath`, or undefined when it is absent or not a string (an optional hint, never worth failing for). */
function optionalString(view: ConfigView, keyPath: readonly (string | number)[]): string | undefined {
  const value = view.value(keyPath);
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function samlStub(view: ConfigView): LinkStub {
  const attribute = optionalString(view, ["saml2_config", "user_mapping_provider", "config", "mxid_source_attribute"]) ?? "uid";
  // No synapse_idp_id: Dex's subjects are not the SAML ids, so a run without the --link must stop at
  // PROVIDER_NOT_IN_MAS rather than link the raw ids.
  const p = provider({ humanName: "SAML", issuer: DEX_ISSUER, localpartTemplate: "{{ user.name }}" });
  return {
    kind: "saml",
    setting: "saml2_config",
    provider: p,
    summary: `Dex with its SAML connector "${DEX_SAML_CONNECTOR}"`,
    notes: [
      `Dex in front of the SAML identity provider, with its SAML connector under the connector id "${DEX_SAML_CONNECTOR}".`,
      "Dex takes the assertion's NameID as the user id: the identity provider must send as NameID the value Synapse",
      "recorded as the user's external id (its uid attribute, with Synapse's default mapping provider).",
      `Set the connector's usernameAttr to ${attribute} (the attribute Synapse made localparts from): new users' localparts`,
      "come from that name claim.",
    ],
    link: `saml=${idOf(p)}:dex:${DEX_SAML_CONNECTOR}:{external_id}`,
  };
}

function casStub(view: ConfigView): LinkStub {
  const server = optionalString(view, ["cas_config", "server_url"]);
  const issuer = server === undefined ? "https://<CAS server>/cas/oidc" : `${server.replace(/\/+$/, "")}/oidc`;
  const p = provider({ synapseIdpId: "cas", humanName: "CAS", issuer, localpartTemplate: "{{ user.sub }}" });
  return {
    kind: "cas",
    setting: "cas_config",
    provider: p,
    summary: "the CAS server's own OpenID Connect endpoint",
    notes: [
      "Dex has no CAS connector: use the CAS server's own OpenID Connect support (Apereo CAS serves it under /oidc),",
      "whose sub is the CAS user name Synapse recorded. The issuer below is a guess from cas_config.server_url: check it",
      "against the server's discovery document, and register MAS there as a client.",
    ],
    link: `cas=${idOf(p)}`,
  };
}

/** The password modules Synapse runs (legacy `password_providers` and auth `modules`), and where each is written. */
function passwordModules(view: ConfigView): { names: string[]; entries: [string, number][] } {
  const legacy = view.list(["password_providers"]) ?? [];
  const modules = view.list(["modules"]) ?? [];
  const entries: [string, number][] = [
    ...legacy.map((_, i): [string, number] => ["password_providers", i]),
    ...modules
      .map((_, i): [string, number] => ["modules", i])
      .filter(([, i]) => isAuthModule(moduleNames([modules[i]])[0] ?? "")),
  ];
  const names = entries.map(([key, i]) => moduleNames([view.value([key, i])])[0] ?? `${key}[${String(i)}]`);
  return { names, entries };
}

function moduleStub(view: ConfigView): LinkStub | undefined {
  const { names, entries } = passwordModules(view);
  if (entries.length === 0) return undefined;
  const ldapAt = entries.find((_, i) => /ldap/i.test(names[i] ?? ""));
  const setting = (ldapAt ?? entries[0])?.[0] ?? "modules";
  if (ldapAt !== undefined) {
    // Only the attribute's name is read from the module's config, never its bind credentials.
    const attribute = optionalString(view, [...ldapAt, "config", "attributes", "uid"]) ?? "uid";
    const p = provider({ humanName: "LDAP", issuer: DEX_ISSUER, localpartTemplate: "{{ user.preferred_username }}" });
    return {
      kind: "ldap",
      setting,
      provider: p,
      summary: `Dex with its LDAP connector "${DEX_LDAP_CONNECTOR}"`,
      notes: [
        `Dex with its LDAP connector under the connector id "${DEX_LDAP_CONNECTOR}", on the directory Synapse's LDAP module used.`,
        `Set its userSearch.idAttr and preferredUsernameAttr to ${attribute}, the attribute Synapse's module took localparts`,
        "from: Dex's user id must be the user's localpart.",
      ],
      link: `${LOCALPART_SOURCE}=${idOf(p)}:dex:${DEX_LDAP_CONNECTOR}:{localpart}`,
    };
  }
  const p = provider({ humanName: "Login", issuer: "https://<issuer>/", localpartTemplate: "{{ user.preferred_username }}" });
  return {
    kind: "module",
    setting,
    provider: p,
    summary: `an OpenID Connect provider serving the users of ${names.join(", ")}`,
    notes: [
      `An OpenID Connect provider serving the users that ${names.join(", ")} logged in, whose sub is the user's localpart.`,
      "Behind Dex, whose sub encodes the user id with the connector id, link with",
      `--link '${LOCALPART_SOURCE}=${idOf(p)}:dex:CONNECTOR:{localpart}' instead.`,
    ],
    link: `${LOCALPART_SOURCE}=${idOf(p)}`,
  };
}

function jwtStub(view: ConfigView, localpartTaken: LinkStub | undefined): LinkStub {
  const claim = optionalString(view, ["jwt_config", "subject_claim"]) ?? "sub";
  const issuer = optionalString(view, ["jwt_config", "issuer"]) ?? "https://<issuer of the JWTs>/";
  const p = provider({ humanName: "JWT", issuer, localpartTemplate: claimTemplate(claim) });
  const notes = [
    "The OpenID Connect provider that issued the JWTs Synapse accepted (or one serving the same accounts),",
    `whose sub is the user's localpart, as the tokens' ${claim} claim was.`,
  ];
  if (localpartTaken !== undefined) {
    const other = localpartTaken.kind === "ldap" ? "LDAP" : "password module";
    notes.push(
      `Only one --link may name SOURCE ${LOCALPART_SOURCE}: the ${other} provider's flag takes it, and links every user`,
      "without an external id (JWT users included) to that provider. JWT users who log in through this provider",
      `instead need their links in a --link-file (user_id,provider,subject) on ${idOf(p)}.`,
    );
  }
  return {
    kind: "jwt",
    setting: "jwt_config",
    provider: p,
    summary: "the OpenID Connect provider that issued the JWTs",
    notes,
    link: localpartTaken === undefined ? `${LOCALPART_SOURCE}=${idOf(p)}` : undefined,
  };
}

/**
 * A stub for each source of users Synapse has enabled that MAS cannot serve directly, in the order
 * SAML, CAS, password module (LDAP first), JWT; none when Synapse logs users in only by password or OIDC.
 */
export function linkStubs(view: ConfigView): LinkStub[] {
  const stubs: LinkStub[] = [];
  if (sectionEnabledByDefault(view.value(["saml2_config"]))) stubs.push(samlStub(view));
  if (sectionEnabledByDefault(view.value(["cas_config"]))) stubs.push(casStub(view));
  const module = moduleStub(view);
  if (module !== undefined) stubs.push(module);
  if (sectionEnabledExplicitly(view.value(["jwt_config"]))) stubs.push(jwtStub(view, module));
  return stubs;
}

/** `value` as YAML lines, each indented by `indent` spaces. */
function indented(value: unknown, indent: number): string[] {
  return yamlText(value)
    .trimEnd()
    .split("\n")
    .map((line) => `${" ".repeat(indent)}${line}`);
}

/**
 * The stubs as one commented-out block (comment text for {@link toCommentedYaml}: lines of YAML, and notes that
 * start with `#`). Removing the first `# ` of every line gives valid YAML, with the notes still comments: the
 * provider list items alone when `upstream_oauth2.providers` exists above, the whole section otherwise.
 */
export function linkStubsComment(stubs: readonly LinkStub[], underProviders: boolean): string {
  const lines = [
    "",
    "# ACTION: upstream providers for the users who logged in through SAML, CAS, JWT or a password module such as LDAP,",
    "# commented out so that MAS starts without them. For each: set up what its notes say; uncomment its lines (delete the",
    '# leading "#" and the space after it on each line, the "upstream_oauth2:" and "providers:" lines too when they are',
    "# commented; the notes stay comments); replace the <...> values; run `mas-cli config sync`; register",
    "# <http.public_base>upstream/callback/<id> at the provider; pass its --link flag to syn2mas check, migrate and verify.",
  ];
  if (!underProviders) lines.push("upstream_oauth2:", "  providers:");
  for (const stub of stubs) {
    lines.push(`# ${stub.setting}: ${stub.summary}.`, ...stub.notes.map((note) => `# ${note}`));
    lines.push(stub.link === undefined ? "# No --link flag of its own (see above)." : `# Link with: ${linkFlag(stub.link)}`);
    lines.push(...indented([stub.provider], 4));
  }
  lines.push("");
  return lines.join("\n");
}

/** Records each stub's `--link` flag in the report, for the section that lists them. */
export function reportLinks(stubs: readonly LinkStub[], report: ConversionReport): void {
  for (const stub of stubs) {
    const providerId = idOf(stub.provider);
    if (stub.link !== undefined) {
      report.links.push({ setting: stub.setting, providerId, link: stub.link });
      continue;
    }
    report.links.push({
      setting: stub.setting,
      providerId,
      link: undefined,
      note:
        `no flag of its own: only one --link ${LOCALPART_SOURCE} is allowed, and the one above links these users too; ` +
        `users who log in through ${providerId} instead need their links in a --link-file (user_id,provider,subject).`,
    });
  }
}

/** What the unsupported-setting lines say about a stub: where it is and the flag that links its users. */
export function stubAdvice(stub: LinkStub): string {
  const flag =
    stub.link === undefined
      ? "see the --link note at the end of this report"
      : `pass ${linkFlag(stub.link)} to check, migrate and verify (listed at the end of this report)`;
  return (
    `the MAS configuration holds a commented upstream provider for these users (id ${idOf(stub.provider)}, ${stub.summary}): ` +
    `fill it in as its comments say, run mas-cli config sync, and ${flag}.`
  );
}
