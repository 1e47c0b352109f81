import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isIP } from "node:net";
import type { MasConfig, SynapseConfig } from "../config/types.ts";
import { decodeIp } from "../source/decode.ts";
import { IPV4_PATTERN, IPV6_PATTERN } from "../source/postgres/dialect.ts";
import { providerAdvice, synapseAuthProviders } from "./synapse-db.ts";

function synapse(extra: Partial<SynapseConfig> = {}): SynapseConfig {
  return {
    files: ["homeserver.yaml"],
    serverName: "example.com",
    databaseEngine: "psycopg2",
    database: {},
    sqlitePath: undefined,
    passwordsEnabled: true,
    localdbEnabled: true,
    pepper: undefined,
    bcryptRounds: undefined,
    oidcProviders: [
      {
        authProviderId: "oidc-keycloak",
        idpId: "keycloak",
        raw: { idp_id: "keycloak", issuer: "https://id.example.com/realms/matrix" },
      },
      { authProviderId: "oidc", idpId: undefined, raw: {} },
    ],
    raw: {},
    ...extra,
  };
}

function mas(providers: MasConfig["upstreamProviders"]): MasConfig {
  return {
    files: ["config.yaml"],
    database: {},
    homeserver: "example.com",
    endpoint: undefined,
    passwordsEnabled: true,
    passwordSchemes: [],
    upstreamProviders: providers,
    raw: {},
  };
}

/** Whether the SQL patterns (PostgreSQL AREs using only syntax JavaScript shares) call `text` an IP literal. */
function sqlSaysIp(text: string): boolean {
  return new RegExp(IPV4_PATTERN).test(text) || new RegExp(IPV6_PATTERN, "i").test(text);
}

const IP_CASES = [
  "1.2.3.4",
  "255.255.255.255",
  "256.1.1.1",
  "01.2.3.4",
  "1.2.3",
  "1.2.3.4.5",
  "1..2.3",
  "0.0.0.0",
  "192.0.2.10",
  "::",
  "::1",
  "1::",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7::8",
  "1:2:3:4:5:6:7:8:9",
  "2001:db8::1",
  "2001:DB8::A",
  "fe80::1%eth0",
  ":::",
  "1::2::3",
  "00000::1",
  "::0001",
  "::ffff:192.0.2.1",
  "1:2:3:4:5:6:1.2.3.4",
  "1:2:3:4:5::1.2.3.4",
  "1:2:3:4:5:6::1.2.3.4",
  "::1.2.3.4",
  "1::2:3:4:5:1.2.3.4",
  "1:2:3:4:5:6:7:1.2.3.4",
  "::ffff:256.1.1.1",
  "g::1",
  "1:",
  ":1",
  "not-an-ip",
  "-",
  "",
  "localhost",
  "[::1]",
  "1.2.3.4:8008",
];

describe("device IP patterns", () => {
  it("agree with Node's isIP, which the migration's decoder uses", () => {
    for (const text of IP_CASES) {
      assert.equal(sqlSaysIp(text), isIP(text) !== 0 && !text.includes("%"), JSON.stringify(text));
    }
  });

  it("agree with isIP on random strings of IP characters", () => {
    const alphabet = "0123456789abcdefABCDEF:.";
    let seed = 42;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const samples = ["::", "1:2:3:4:5:6:7:8", "1.2.3.4", "::ffff:1.2.3.4"];
    for (let i = 0; i < 20000; i++) {
      const base = samples[next(samples.length)] as string;
      const chars = [...base];
      for (let edits = next(4); edits >= 0; edits--)
        chars.splice(next(chars.length + 1), next(2), alphabet[next(alphabet.length)] as string);
      const text = chars.join("");
      assert.equal(sqlSaysIp(text), isIP(text) !== 0, JSON.stringify(text));
    }
  });

  it("count what decodeIp flags, apart from the trimming", () => {
    for (const text of IP_CASES.filter((t) => t !== "" && t !== "-")) {
      assert.equal(!sqlSaysIp(text), decodeIp(text).unparsable, JSON.stringify(text));
    }
  });
});

describe("synapseAuthProviders", () => {
  it("lists the OIDC providers, then cas, saml and jwt when their sections are present (even empty)", () => {
    assert.deepEqual(synapseAuthProviders(synapse()), ["oidc-keycloak", "oidc"]);
    assert.deepEqual(
      synapseAuthProviders(
        synapse({ raw: { cas_config: null, saml2_config: { sp_config: {} }, jwt_config: { enabled: true } } }),
      ),
      ["oidc-keycloak", "oidc", "cas", "saml", "jwt"],
    );
  });
});

describe("providerAdvice", () => {
  const keycloak = {
    id: "01JSHPZHAXC50QBKH67MH33TNF",
    synapseIdpId: undefined,
    issuer: "https://id.example.com/realms/matrix",
    humanName: "Keycloak",
  };

  it("names the MAS provider with Synapse's issuer", () => {
    const advice = providerAdvice("oidc-keycloak", synapse(), mas([keycloak]));
    assert.match(
      advice,
      /add `synapse_idp_id: oidc-keycloak` to the provider with issuer https:\/\/id\.example\.com\/realms\/matrix/i,
    );
    assert.match(advice, /01JSHPZHAXC50QBKH67MH33TNF/);
  });

  it("ignores a trailing slash and says which synapse_idp_id it replaces", () => {
    const advice = providerAdvice(
      "oidc-keycloak",
      synapse(),
      mas([{ ...keycloak, issuer: `${keycloak.issuer}/`, synapseIdpId: "keycloak" }]),
    );
    assert.match(
      advice,
      /to the provider with issuer https:\/\/id\.example\.com\/realms\/matrix\/ \(id \w+, replacing synapse_idp_id: keycloak\)/,
    );
    assert.match(advice, /--upstream-provider-mapping oidc-keycloak:01JSHPZHAXC50QBKH67MH33TNF/);
  });

  it("asks for a new provider when no MAS provider has that issuer", () => {
    const advice = providerAdvice("oidc-keycloak", synapse(), mas([{ ...keycloak, issuer: "https://other.example.com" }]));
    assert.match(advice, /add a provider with that issuer and `synapse_idp_id: oidc-keycloak`/);
  });

  it("falls back to the generic advice when Synapse has no issuer for it", () => {
    for (const authProvider of ["oidc", "saml"]) {
      const advice = providerAdvice(authProvider, synapse(), mas([keycloak]));
      assert.match(
        advice,
        new RegExp(`Add \`synapse_idp_id: ${authProvider}\` to that provider under upstream_oauth2\\.providers`),
      );
      assert.match(advice, new RegExp(`--upstream-provider-mapping ${authProvider}:<ULID>`));
    }
  });
});
