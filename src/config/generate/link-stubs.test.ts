/**
 * Tests for the upstream provider stubs of `config generate` (issue 15): for each mix of SAML, CAS, LDAP or
 * other password modules and JWT, the commented lines written, the YAML they give once uncommented, and the
 * `--link` flags the report prints, parsed back with the real flag parser.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import YAML from "yaml";
import { ulidTextToUuid } from "../../model/ids.ts";
import { parseLinkFlag } from "../link-rules.ts";
import { masConfigYaml, type GeneratedMasConfig } from "./mas-config.ts";
import type { StubKind } from "./link-stubs.ts";
import { renderConversionReport } from "./report.ts";
import { generateFromYaml } from "../../../test/harness/config-cases.ts";
import { uncommentStubs } from "../../../test/harness/links.ts";

type Obj = Record<string, any>;

const SAML = "saml2_config:\n  sp_config: {metadata: {remote: [{url: https://idp.example.org/metadata}]}}\n";
const CAS = "cas_config:\n  server_url: https://cas.example.org/cas/\n";
const JWT = "jwt_config:\n  enabled: true\n  secret: jwt-secret-xyz\n  algorithm: HS256\n  subject_claim: preferred_username\n";
const LDAP_MODULE = `modules:
  - module: ldap_auth_provider.LdapAuthProviderModule
    config: {uri: ldap://ldap.example.org, bind_password: ldap-bind-pw, attributes: {uid: cn, mail: mail, name: givenName}}
  - module: my_spam_checker.SpamChecker
`;
const OIDC = `oidc_providers:
  - idp_id: keycloak
    issuer: https://id.example.org/realms/matrix
    client_id: synapse
    client_secret: kc-secret-xyz
`;

function generate(yaml: string): GeneratedMasConfig {
  return generateFromYaml(yaml, "syn2mas-link-stubs-");
}

/** The `--link` values the rendered report prints, in order. */
function printedLinks(generated: GeneratedMasConfig): string[] {
  const report = renderConversionReport(generated.report.entries, undefined, generated.report.links);
  return report
    .split("\n")
    .filter((l) => l.startsWith("  --link "))
    .map((l) => {
      const match = /^ {2}--link '([^']+)'$/.exec(l);
      assert.ok(match !== null, `not a quoted flag: ${l}`);
      return match[1] as string;
    });
}

interface Case {
  name: string;
  yaml: string;
  /** The stubs expected, in order: kind and the Synapse setting named. */
  stubs: [StubKind, string][];
  /** The printed flags, with ID<n> for the id of the n-th stub. */
  links: string[];
  /** Lines the commented YAML must hold, with ID<n> as above. */
  lines: string[];
}

const CASES: Case[] = [
  {
    name: "SAML only",
    yaml: SAML,
    stubs: [["saml", "saml2_config"]],
    links: ["saml=ID0:dex:saml:{external_id}"],
    lines: [
      "# upstream_oauth2:",
      "#   providers:",
      "#     - id: ID0",
      "#       human_name: SAML",
      "#       issuer: https://<dex host>/dex",
      "#       scope: openid profile email",
      '#           template: "{{ user.name }}"',
      '## Dex in front of the SAML identity provider, with its SAML connector under the connector id "saml".',
      "## Link with: --link 'saml=ID0:dex:saml:{external_id}'",
    ],
  },
  {
    name: "CAS only",
    yaml: CAS,
    stubs: [["cas", "cas_config"]],
    links: ["cas=ID0"],
    lines: [
      "#     - id: ID0",
      "#       synapse_idp_id: cas",
      "#       issuer: https://cas.example.org/cas/oidc",
      '#           template: "{{ user.sub }}"',
      "## Link with: --link 'cas=ID0'",
    ],
  },
  {
    name: "an LDAP module",
    yaml: LDAP_MODULE,
    stubs: [["ldap", "modules"]],
    links: ["localpart=ID0:dex:ldap:{localpart}"],
    lines: [
      "#     - id: ID0",
      "#       human_name: LDAP",
      '#           template: "{{ user.preferred_username }}"',
      "## Set its userSearch.idAttr and preferredUsernameAttr to cn, the attribute Synapse's module took localparts",
      "## Link with: --link 'localpart=ID0:dex:ldap:{localpart}'",
    ],
  },
  {
    name: "a legacy LDAP password provider without attributes",
    yaml: "password_providers:\n  - module: ldap_auth_provider.LdapAuthProvider\n    config: {bind_password: legacy-bind-pw}\n",
    stubs: [["ldap", "password_providers"]],
    links: ["localpart=ID0:dex:ldap:{localpart}"],
    lines: ["## Set its userSearch.idAttr and preferredUsernameAttr to uid, the attribute Synapse's module took localparts"],
  },
  {
    name: "another password module",
    yaml: "modules:\n  - module: rest_auth_provider.RestAuthProvider\n",
    stubs: [["module", "modules"]],
    links: ["localpart=ID0"],
    lines: ["#     - id: ID0", "#       issuer: https://<issuer>/", "## Link with: --link 'localpart=ID0'"],
  },
  {
    name: "JWT",
    yaml: JWT,
    stubs: [["jwt", "jwt_config"]],
    links: ["localpart=ID0"],
    lines: [
      "#     - id: ID0",
      "#       issuer: https://<issuer of the JWTs>/",
      '#           template: "{{ user.preferred_username }}"',
      "## Link with: --link 'localpart=ID0'",
    ],
  },
  {
    name: "LDAP and JWT: one --link localpart, LDAP's",
    yaml: LDAP_MODULE + JWT,
    stubs: [
      ["ldap", "modules"],
      ["jwt", "jwt_config"],
    ],
    links: ["localpart=ID0:dex:ldap:{localpart}"],
    lines: [
      "#     - id: ID0",
      "#     - id: ID1",
      "## instead need their links in a --link-file (user_id,provider,subject) on ID1.",
      "## No --link flag of its own (see above).",
    ],
  },
  {
    name: "SAML, CAS and LDAP",
    yaml: SAML + CAS + LDAP_MODULE,
    stubs: [
      ["saml", "saml2_config"],
      ["cas", "cas_config"],
      ["ldap", "modules"],
    ],
    links: ["saml=ID0:dex:saml:{external_id}", "cas=ID1", "localpart=ID2:dex:ldap:{localpart}"],
    lines: ["#     - id: ID0", "#     - id: ID1", "#     - id: ID2"],
  },
  {
    name: "SAML under existing OIDC providers: the items alone",
    yaml: OIDC + SAML,
    stubs: [["saml", "saml2_config"]],
    links: ["saml=ID0:dex:saml:{external_id}"],
    lines: ["#     - id: ID0", "#       human_name: SAML"],
  },
  { name: "none", yaml: OIDC + "modules:\n  - module: my_spam_checker.SpamChecker\n", stubs: [], links: [], lines: [] },
];

describe("config generate: upstream provider stubs and --link flags", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const generated = generate(c.yaml);
      const stubs = generated.linkStubs;
      assert.deepEqual(
        stubs.map((s) => [s.kind, s.setting]),
        c.stubs,
      );
      const ids = stubs.map((s) => s.provider["id"] as string);
      const fill = (text: string): string => text.replace(/ID(\d)/g, (_, n: string) => ids[Number(n)] as string);
      for (const id of ids) assert.match(id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
      assert.equal(new Set(ids).size, ids.length, "one fresh id per stub");

      // The report prints the flags, each with the id of its stub, and each parses as a --link.
      const links = printedLinks(generated);
      assert.deepEqual(links, c.links.map(fill));
      for (const link of links) {
        const rule = parseLinkFlag(link);
        const stub = stubs.find((s) => s.link === link);
        assert.ok(stub !== undefined, `no stub for ${link}`);
        assert.equal(rule.providerId, ulidTextToUuid(stub.provider["id"] as string));
        assert.equal(rule.source, stub.kind === "saml" ? "saml" : stub.kind === "cas" ? "cas" : "localpart");
        assert.equal(rule.dexConnector, { saml: "saml", ldap: "ldap" }[stub.kind as string]);
      }

      // The stubs are comments: the YAML reads back as the configuration, which has no trace of them.
      const text = masConfigYaml(generated);
      const config = generated.config as Obj;
      assert.deepEqual(YAML.parse(text), config);
      const lines = text.split("\n");
      for (const line of c.lines.map(fill)) assert.ok(lines.includes(line), `missing line: ${line}`);
      if (stubs.length === 0) {
        assert.doesNotMatch(text, /upstream providers for the users/);
        assert.equal(generated.report.links.length, 0);
        assert.doesNotMatch(renderConversionReport(generated.report.entries, undefined, generated.report.links), /--link/);
        return;
      }

      // Uncommented, they are valid YAML: the same configuration plus the stubs after any existing provider.
      const uncommented = YAML.parse(uncommentStubs(text)) as Obj;
      const existing = (config.upstream_oauth2?.providers ?? []) as Obj[];
      assert.equal(lines.includes("# upstream_oauth2:"), existing.length === 0, "the section's own lines only without providers");
      assert.deepEqual(uncommented.upstream_oauth2.providers, [...existing, ...stubs.map((s) => s.provider)]);
      assert.deepEqual({ ...uncommented, upstream_oauth2: undefined }, { ...config, upstream_oauth2: undefined });
      for (const stub of stubs) {
        const p = stub.provider as Obj;
        assert.equal(p.client_id, "<client id registered for MAS>");
        assert.equal(p.scope, "openid profile email");
        assert.equal(p.claims_imports.localpart.action, "require");
        // Only CAS: its subjects are the ids themselves; Dex's SAML subjects are not (a run without --link must stop).
        assert.equal(p.synapse_idp_id, { cas: "cas" }[stub.kind as string]);
      }
    });
  }

  it("points the not-carried-over lines at the stub and its flag, and puts the JWT note in the report", () => {
    const generated = generate(SAML + CAS + LDAP_MODULE + JWT);
    const [saml, cas, ldap, jwt] = generated.linkStubs.map((s) => s.provider["id"] as string);
    const message = (setting: string) => generated.report.entries.find((e) => e.setting === setting)?.message ?? "";
    assert.match(
      message("saml2_config"),
      new RegExp(`^is enabled\\. MAS does not speak SAML: .*id ${saml}.*--link 'saml=${saml}:dex:saml:\\{external_id\\}'`),
    );
    assert.match(
      message("cas_config"),
      new RegExp(`id ${cas}, the CAS server's own OpenID Connect endpoint.*--link 'cas=${cas}'`),
    );
    assert.match(message("modules"), new RegExp(`--link 'localpart=${ldap}:dex:ldap:\\{localpart\\}'`));
    assert.match(message("jwt_config"), new RegExp(`id ${jwt}.*see the --link note at the end of this report`));
    const report = renderConversionReport(generated.report.entries, undefined, generated.report.links).split("\n");
    const section = report.findIndex((l) => l.startsWith("Linking SAML, CAS, LDAP and JWT users:"));
    assert.ok(section > 0);
    assert.match(report[section] ?? "", /run `mas-cli config sync`, then pass these flags to `syn2mas check`/);
    assert.match(
      report[section + 4] ?? "",
      new RegExp(`^ {2}jwt_config \\(provider ${jwt}\\): no flag of its own: .*--link-file`),
    );
    assert.match(report[section + 5] ?? "", /^\d+ setting\(s\) not carried over/);
    const text = JSON.stringify(generated.report) + report.join("\n");
    for (const secret of ["jwt-secret-xyz", "ldap-bind-pw", "db-password-xyz"]) assert.ok(!text.includes(secret), secret);
  });
});
