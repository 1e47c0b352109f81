/**
 * How Synapse itself reads its settings (flags, optional sections, module lists). Both the checks and
 * `config generate` read homeserver.yaml through these, so the two agree on what Synapse would do. Pure.
 */
import { isMapping } from "./yaml-source.ts";

/** Python's truthiness, which Synapse applies to most flags (`config.get("x", False)`). */
export function pythonTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object" && !(value instanceof Date)) return Object.keys(value).length > 0;
  return true;
}

/** Python's `strtobool(str(value))`, which Synapse applies to `enable_registration`. */
export function strToBool(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  return ["y", "yes", "t", "true", "on", "1"].includes(String(value).trim().toLowerCase());
}

/** A key of a section, or undefined when the section is not a mapping. */
export function sectionKey(section: unknown, key: string): unknown {
  return isMapping(section) ? section[key] : undefined;
}

/** Synapse's rule for `cas_config` and `saml2_config`: a section with content, unless it says `enabled: false`. */
export function sectionEnabledByDefault(section: unknown): boolean {
  if (!isMapping(section) || !pythonTruthy(section)) return false;
  return !("enabled" in section) || pythonTruthy(section["enabled"]);
}

/** Synapse's rule for `jwt_config`: only with `enabled: true`. */
export function sectionEnabledExplicitly(section: unknown): boolean {
  return pythonTruthy(sectionKey(section, "enabled"));
}

/** Synapse modules known to check passwords or log users in. */
const KNOWN_AUTH_MODULES = ["ldap_auth_provider.LdapAuthProviderModule", "ldap_auth_provider.LdapAuthProvider"];

/** Whether a `modules` entry's `module` provides authentication: a known one, or a name saying "auth", "ldap" or "password_provider". */
export function isAuthModule(name: string): boolean {
  return KNOWN_AUTH_MODULES.includes(name) || /auth|ldap|password_provider/i.test(name);
}

/** The `module` names of a list of `{module, config}` entries; the `config` (which may hold secrets) is never read. */
export function moduleNames(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((entry) => sectionKey(entry, "module")).filter((name): name is string => typeof name === "string");
}
