/**
 * What `config generate` writes passes this tool's own checks: the MAS configuration generated from the fixture
 * homeserver.yaml, and a homeserver.yaml full of settings Synapse refuses alongside MAS once rewritten.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateMasConfig, masConfigYaml } from "../config/generate/mas-config.ts";
import { ConversionReport } from "../config/generate/report.ts";
import { synapseAfterYaml } from "../config/generate/synapse-after.ts";
import { loadMasConfig } from "../config/mas.ts";
import { loadSynapseConfig } from "../config/synapse.ts";
import { masConfigRules } from "./mas-config.ts";
import { synapseConfigRules } from "./synapse-config.ts";
import { DELEGATION, SYNAPSE_CONFLICTS_YAML } from "../../test/harness/config-cases.ts";
import { synapseHomeserverYaml } from "../../test/harness/fixtures.ts";
import { writeScratchFiles } from "../../test/harness/scratch.ts";

describe("the configurations config generate writes, checked", () => {
  it("passes this tool's own MAS configuration rules, but for the guests the fixture allows", () => {
    const synapse = loadSynapseConfig([synapseHomeserverYaml]);
    const first = generateMasConfig(synapse);
    const mas = loadMasConfig(writeScratchFiles("syn2mas-generate-", { "mas.yaml": masConfigYaml(first) }));
    assert.deepEqual(
      mas.upstreamProviders.map((p) => p.synapseIdpId),
      ["oidc-keycloak", "oidc-github"],
    );
    assert.deepEqual(
      masConfigRules(synapse, mas).map((f) => f.code),
      ["GUEST_ACCESS_ENABLED"],
    );
  });

  it("leaves Synapse's own rules nothing to report once every setting Synapse refuses alongside MAS is rewritten", () => {
    const before = loadSynapseConfig(writeScratchFiles("syn2mas-synapse-after-", { "homeserver.yaml": SYNAPSE_CONFLICTS_YAML }));
    const text = synapseAfterYaml(before, DELEGATION, new ConversionReport());
    const reloaded = loadSynapseConfig(writeScratchFiles("syn2mas-synapse-after-", { "after.yaml": text }));
    assert.deepEqual(
      synapseConfigRules(reloaded).map((f) => f.code),
      [],
    );
  });
});
