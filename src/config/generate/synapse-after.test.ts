/** Tests for synapseAfterYaml: delegation added, conflicting settings removed or off, comments kept. */
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import YAML from "yaml";
import { ConversionReport } from "./report.ts";
import { synapseAfterYaml } from "./synapse-after.ts";
import { loadSynapseConfig } from "../synapse.ts";
import { DELEGATION, SYNAPSE_CONFLICTS_YAML } from "../../../test/harness/config-cases.ts";
import { writeScratchFiles } from "../../../test/harness/scratch.ts";

const HOMESERVER = fileURLToPath(new URL("../../../test/fixtures/synapse/homeserver.yaml", import.meta.url));

type Obj = Record<string, any>;

/** The after-migration YAML for `files`, parsed, with the report and the file reloaded by the loader. */
function after(files: string[]): { text: string; parsed: Obj; report: ConversionReport } {
  const report = new ConversionReport();
  const text = synapseAfterYaml(loadSynapseConfig(files), DELEGATION, report);
  return { text, parsed: YAML.parse(text, { version: "1.1" }) as Obj, report };
}

describe("synapseAfterYaml", () => {
  it("adds matrix_authentication_service to the fixture, drops its OIDC providers and keeps its comments", () => {
    const { text, parsed, report } = after([HOMESERVER]);
    assert.deepEqual(parsed.matrix_authentication_service, { enabled: true, ...DELEGATION });
    assert.equal(parsed.oidc_providers, undefined);
    assert.equal(parsed.refresh_token_lifetime, undefined);
    assert.equal(parsed.password_config.enabled, false);
    assert.equal(parsed.password_config.pepper, "peppery-pepper-123", "the rest of the section stays");
    assert.equal(parsed.allow_guest_access, false);
    assert.equal(parsed.server_name, "example.com");
    assert.match(text, /^# Configuration file for Synapse\.$/m);
    assert.match(text, /^# vim:ft=yaml$/m);
    assert.match(text, /# secret: the same value as matrix\.secret in the MAS configuration\./);
    const actions = Object.fromEntries(report.entries.map((e) => [e.setting, e.action]));
    assert.deepEqual(actions, {
      oidc_providers: "removed",
      refresh_token_lifetime: "removed",
      allow_guest_access: "turned-off",
      "password_config.enabled": "turned-off",
      matrix_authentication_service: "added",
    });
    assert.ok(report.entries.every((e) => e.target === "synapse"));
    assert.ok(!JSON.stringify(report.entries).includes(DELEGATION.secret));
  });

  it("removes or turns off every setting Synapse refuses alongside MAS", () => {
    const { text, parsed, report } = after(
      writeScratchFiles("syn2mas-synapse-after-", { "homeserver.yaml": SYNAPSE_CONFLICTS_YAML }),
    );
    for (const key of [
      "login_via_existing_session",
      "user_consent",
      "cas_config",
      "saml2_config",
      "jwt_config",
      "password_providers",
      "oidc_config",
      "session_lifetime",
    ]) {
      assert.equal(parsed[key], undefined, key);
      assert.equal(report.entries.find((e) => e.setting === key)?.action, "removed", key);
    }
    for (const key of ["enable_registration", "enable_registration_captcha", "enable_3pid_changes", "allow_guest_access"]) {
      assert.equal(parsed[key], false, key);
      assert.equal(report.entries.find((e) => e.setting === key)?.action, "turned-off", key);
    }
    assert.deepEqual(parsed.experimental_features, { msc9999_enabled: true });
    assert.deepEqual(parsed.password_config, { enabled: false });
    assert.match(text, /^# Top comment of the operator\.$/m);
    assert.match(text, /^# The media store\.$/m);
    const reloaded = loadSynapseConfig(writeScratchFiles("syn2mas-synapse-after-", { "after.yaml": text }));
    assert.equal(reloaded.passwordsEnabled, false);
    // That Synapse's own rules are quiet on the result: src/checks/generated-config.test.ts.
  });

  it("writes the merged top level when given several files", () => {
    const files = writeScratchFiles("syn2mas-synapse-after-", {
      "a.yaml": "server_name: example.org\nenable_registration: true\n",
      "b.yaml": "enable_registration: false\npassword_config:\n",
    });
    const { text, parsed, report } = after(files);
    assert.match(text, /^# Merged top level of /);
    assert.equal(parsed.server_name, "example.org");
    assert.equal(parsed.enable_registration, false);
    assert.deepEqual(parsed.password_config, { enabled: false });
    assert.equal(
      report.entries.find((e) => e.setting === "enable_registration"),
      undefined,
      "already off",
    );
  });

  it("replaces an existing matrix_authentication_service section", () => {
    const { parsed, report } = after(
      writeScratchFiles("syn2mas-synapse-after-", {
        "homeserver.yaml":
          "server_name: example.org\nmatrix_authentication_service: {enabled: false}\npassword_config: {enabled: false}\n",
      }),
    );
    assert.deepEqual(parsed.matrix_authentication_service, { enabled: true, ...DELEGATION });
    assert.equal(report.entries.find((e) => e.setting === "matrix_authentication_service")?.action, "changed");
    assert.equal(
      report.entries.find((e) => e.setting === "password_config.enabled"),
      undefined,
      "already off",
    );
  });
});
