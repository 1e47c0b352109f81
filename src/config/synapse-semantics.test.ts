/** Tests for how Synapse reads its settings: the one reading the checks and `config generate` share. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isAuthModule, pythonTruthy, sectionEnabledByDefault } from "./synapse-semantics.ts";

describe("how Synapse reads its flags", () => {
  const truthy: [unknown, boolean][] = [
    [true, true],
    [false, false],
    [null, false],
    [undefined, false],
    [0, false],
    [1, true],
    ["", false],
    ["false", true],
    [[], false],
    [{}, false],
    [{ a: 1 }, true],
  ];
  for (const [value, expected] of truthy) {
    it(`Python truthiness of ${JSON.stringify(value)} is ${expected}`, () => assert.equal(pythonTruthy(value), expected));
  }
  const sections: [unknown, boolean][] = [
    [null, false],
    [{}, false],
    [{ enabled: false, x: 1 }, false],
    [{ x: 1 }, true],
    [{ enabled: true }, true],
    ["text", false],
  ];
  for (const [value, expected] of sections) {
    it(`a cas_config / saml2_config of ${JSON.stringify(value)} is ${expected ? "enabled" : "off"}`, () =>
      assert.equal(sectionEnabledByDefault(value), expected));
  }
  const modules: [string, boolean][] = [
    ["ldap_auth_provider.LdapAuthProviderModule", true],
    ["synapse_shared_secret_auth.SharedSecretAuthProvider", true],
    ["my_ldap.Module", true],
    ["synapse_auto_accept_invite.InviteAutoAccepter", false],
  ];
  for (const [name, expected] of modules) {
    it(`module ${name} ${expected ? "provides" : "does not provide"} authentication`, () =>
      assert.equal(isAuthModule(name), expected));
  }
});
