/** Synapse's configuration after the migration: delegation to MAS added, conflicting settings removed or off, comments kept. */
import { Document, isMap, parseDocument } from "yaml";
import { UserError } from "../../errors/user-error.ts";
import { pythonTruthy } from "../synapse-semantics.ts";
import type { SynapseConfig } from "../types.ts";
import type { ConversionReport } from "./report.ts";
import { commentKey, YAML_OPTIONS } from "./yaml.ts";
import { isMapping, readTextFile } from "../yaml-source.ts";

/** What Synapse needs to know about MAS. */
export interface DelegationSettings {
  /** MAS's URL as Synapse reaches it (`http.public_base` of the MAS configuration). */
  endpoint: string;
  /** The shared secret, `matrix.secret` of the MAS configuration. */
  secret: string;
}

/** Top-level settings Synapse refuses alongside MAS, removed whole, and why. */
const REMOVED: Record<string, string> = {
  oidc_providers: "its providers are now upstream_oauth2.providers in MAS.",
  oidc_config: "its provider is now in upstream_oauth2.providers in MAS.",
  cas_config: "Synapse refuses SSO with MAS; CAS users need an upstream provider in MAS (see the MAS report).",
  saml2_config: "Synapse refuses SSO with MAS; SAML users need an upstream provider in MAS (see the MAS report).",
  jwt_config: "Synapse refuses JWT login with MAS.",
  password_providers: "Synapse refuses password providers with MAS.",
  user_consent: "Synapse refuses user_consent with MAS; MAS asks for branding.tos_uri instead.",
  login_via_existing_session: "Synapse refuses it with MAS.",
  refresh_token_lifetime: "MAS issues the tokens; Synapse refuses this setting with MAS.",
  session_lifetime: "MAS manages sessions; Synapse refuses this setting with MAS.",
  nonrefreshable_access_token_lifetime: "MAS issues the tokens; Synapse refuses this setting with MAS.",
};

/** Top-level flags Synapse refuses when true alongside MAS, set to false, and why. */
const TURNED_OFF: Record<string, string> = {
  enable_registration: "registration happens in MAS (account.password_registration_enabled).",
  enable_registration_captcha: "MAS asks for the CAPTCHA (captcha section).",
  enable_3pid_changes: "MAS owns email addresses (account.email_change_allowed).",
  allow_guest_access: "MAS has no guest accounts.",
};

/** How Synapse reads these flags: booleans as they are, strings as `strtobool` does, anything else by Python truthiness. */
function isOn(value: unknown): boolean {
  if (typeof value === "string") return ["y", "yes", "t", "true", "on", "1"].includes(value.trim().toLowerCase());
  return pythonTruthy(value);
}

const HINT = "pass Synapse's configuration with --synapse-config, as given to Synapse with -c";

/** The single file as a Document (comments kept), or the merged top level of several files. */
function sourceDocument(synapse: SynapseConfig): Document {
  if (synapse.files.length !== 1) {
    const doc = new Document(synapse.raw, { version: "1.1" });
    doc.commentBefore = ` Merged top level of ${synapse.files.join(", ")} (later files replace earlier keys, as in Synapse).`;
    return doc;
  }
  const file = synapse.files[0] as string;
  const doc = parseDocument(readTextFile(file, HINT), { version: "1.1", uniqueKeys: false });
  if (doc.errors.length > 0 || !isMap(doc.contents)) throw new UserError(`${file}: cannot be edited as a YAML mapping`, HINT);
  return doc;
}

function removeConflicts(doc: Document, synapse: SynapseConfig, report: ConversionReport): void {
  for (const [key, why] of Object.entries(REMOVED)) {
    if (!doc.has(key)) continue;
    doc.delete(key);
    if (synapse.raw[key] != null) report.synapse("removed", key, why);
  }
  for (const [key, why] of Object.entries(TURNED_OFF)) {
    if (!isOn(synapse.raw[key])) continue;
    doc.set(key, false);
    report.synapse("turned-off", key, why);
  }
  const experimental = synapse.raw["experimental_features"];
  if (isMapping(experimental) && experimental["msc3861"] !== undefined) {
    doc.deleteIn(["experimental_features", "msc3861"]);
    report.synapse("removed", "experimental_features.msc3861", "replaced by matrix_authentication_service.");
  }
}

function disablePasswords(doc: Document, synapse: SynapseConfig, report: ConversionReport): void {
  if (isMap(doc.get("password_config", true))) doc.setIn(["password_config", "enabled"], false);
  else doc.set("password_config", doc.createNode({ enabled: false }));
  if (synapse.passwordsEnabled === false) return;
  report.synapse(
    "turned-off",
    "password_config.enabled",
    "MAS checks passwords now; Synapse refuses password login with MAS (and enables it by default).",
  );
}

function addDelegation(doc: Document, settings: DelegationSettings, report: ConversionReport): void {
  const existed = doc.has("matrix_authentication_service");
  doc.delete("matrix_authentication_service");
  doc.set(
    "matrix_authentication_service",
    doc.createNode({ enabled: true, endpoint: settings.endpoint, secret: settings.secret }),
  );
  commentKey(
    doc,
    ["matrix_authentication_service"],
    "Added by syn2mas config generate: authentication is delegated to MAS.\n" +
      "endpoint: MAS's URL as Synapse reaches it (http.public_base of the MAS configuration; an internal URL works too).\n" +
      "secret: the same value as matrix.secret in the MAS configuration.",
  );
  report.synapse(
    existed ? "changed" : "added",
    "matrix_authentication_service",
    `${existed ? "replaced by " : ""}enabled: true, endpoint: ${settings.endpoint}, secret: the MAS configuration's matrix.secret.`,
  );
}

/**
 * Synapse's configuration to use once MAS runs: the given file (or the merged top level of several files)
 * with `matrix_authentication_service` added and every setting Synapse refuses alongside MAS removed or
 * turned off, each reported. Comments of a single source file are kept where the YAML library can.
 */
export function synapseAfterYaml(synapse: SynapseConfig, settings: DelegationSettings, report: ConversionReport): string {
  const doc = sourceDocument(synapse);
  removeConflicts(doc, synapse, report);
  disablePasswords(doc, synapse, report);
  addDelegation(doc, settings, report);
  // Synapse's sample configuration writes flow mappings without inner spaces.
  return doc.toString({ ...YAML_OPTIONS, flowCollectionPadding: false });
}
