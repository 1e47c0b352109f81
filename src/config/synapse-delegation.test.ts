/** Tests for SynapseConfig.authDelegation: which key (if any) makes Synapse delegate authentication to MAS. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadSynapseConfig } from "./synapse.ts";
import { writeScratchFiles } from "../../test/harness/scratch.ts";
import { assertUserError } from "../../test/harness/user-error.ts";

function load(yaml: string) {
  return loadSynapseConfig(
    writeScratchFiles("syn2mas-synapse-delegation-", { "homeserver.yaml": `server_name: example.org\n${yaml}` }),
  );
}

describe("Synapse's delegation to MAS", () => {
  const cases: [string, string, string | undefined][] = [
    ["no section", "", undefined],
    [
      "matrix_authentication_service enabled",
      "matrix_authentication_service: {enabled: true, endpoint: http://mas:8080/}\n",
      "matrix_authentication_service",
    ],
    ["matrix_authentication_service disabled", "matrix_authentication_service: {enabled: false}\n", undefined],
    [
      "matrix_authentication_service without enabled (Synapse's default: false)",
      "matrix_authentication_service: {endpoint: http://mas/}\n",
      undefined,
    ],
    ["an empty matrix_authentication_service", "matrix_authentication_service:\n", undefined],
    [
      "msc3861 enabled",
      "experimental_features: {msc3861: {enabled: true, issuer: https://mas/}}\n",
      "experimental_features.msc3861",
    ],
    ["msc3861 disabled", "experimental_features: {msc3861: {enabled: false}}\n", undefined],
    ["other experimental features", "experimental_features: {msc3266_enabled: true}\n", undefined],
    [
      "both (the newer key named)",
      "matrix_authentication_service: {enabled: true}\nexperimental_features: {msc3861: {enabled: true}}\n",
      "matrix_authentication_service",
    ],
    [
      "msc3861 enabled, matrix_authentication_service disabled",
      "matrix_authentication_service: {enabled: false}\nexperimental_features: {msc3861: {enabled: true}}\n",
      "experimental_features.msc3861",
    ],
  ];
  for (const [name, yaml, expected] of cases) {
    it(name, () => assert.equal(load(yaml).authDelegation, expected));
  }

  it("refuses an enabled that is not a boolean, as Synapse does", () => {
    assertUserError(
      () => load('matrix_authentication_service: {enabled: "yes"}\n'),
      ["matrix_authentication_service.enabled", "true or false"],
    );
  });

  it("refuses a matrix_authentication_service that is not a mapping", () => {
    assertUserError(() => load("matrix_authentication_service: true\n"), ["matrix_authentication_service", "mapping"]);
  });
});
