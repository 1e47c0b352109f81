/** Synapse's OIDC providers (`oidc_providers`, legacy `oidc_config`) -> MAS `upstream_oauth2.providers`. */
import type { SynapseConfig, SynapseOidcProvider } from "../types.ts";
import { claimsImports } from "./claims.ts";
import type { ConversionReport } from "./report.ts";
import { newUlid } from "./secrets.ts";
import { formatKey, readTextFile, withoutUndefined, type ConfigView, type KeyPath, type Mapping } from "../yaml-source.ts";
import { connectionSettings, providerUnsupportedKeys } from "./provider-keys.ts";

/** A provider of the loaded configuration and where it is written. */
interface Located {
  at: KeyPath;
  provider: SynapseOidcProvider;
}

/** Finds where each loaded provider sits in the raw configuration (the loader keeps the raw mapping objects). */
function locate(synapse: SynapseConfig, view: ConfigView, report: ConversionReport): Located[] {
  const found: Located[] = [];
  const byRaw = new Map(synapse.oidcProviders.map((p) => [p.raw, p]));
  (view.list(["oidc_providers"]) ?? []).forEach((entry, i) => {
    const provider = byRaw.get(entry as Mapping);
    if (provider !== undefined) found.push({ at: ["oidc_providers", i], provider });
  });
  const legacy = view.value(["oidc_config"]);
  const legacyProvider = byRaw.get(legacy as Mapping);
  if (legacyProvider !== undefined) found.push({ at: ["oidc_config"], provider: legacyProvider });
  else if (legacy != null) {
    report.mas(
      "not-carried-over",
      "oidc_config",
      "is not enabled (no `enabled: true`), so Synapse ignores it and so does this conversion.",
    );
  }
  return found;
}

function clientSecret(view: ConfigView, at: KeyPath, report: ConversionReport): string | undefined {
  const inline = view.text([...at, "client_secret"]);
  const path = view.string([...at, "client_secret_path"]);
  if (path === undefined) return inline;
  if (inline !== undefined) {
    report.mas(
      "changed",
      formatKey([...at, "client_secret_path"]),
      "ignored: client_secret is set too; the inline secret is used.",
    );
    return inline;
  }
  const hint = "point client_secret_path at a readable file holding the client secret, or set client_secret instead";
  const secret = readTextFile(path, hint, formatKey([...at, "client_secret_path"])).trim();
  report.mas(
    "changed",
    formatKey([...at, "client_secret_path"]),
    `the secret was read from ${path} and written inline as client_secret; MAS can read it from a file instead with client_secret_file.`,
  );
  return secret;
}

const AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"];

function authMethod(view: ConfigView, at: KeyPath, hasSecret: boolean, report: ConversionReport): string {
  const method = view.string([...at, "client_auth_method"]);
  if (method !== undefined && AUTH_METHODS.includes(method)) return method;
  const fallback = hasSecret ? "client_secret_basic" : "none";
  if (method !== undefined) {
    report.mas(
      "not-carried-over",
      formatKey([...at, "client_auth_method"]),
      `"${method}" is not a method this tool maps; token_endpoint_auth_method is ${fallback}: set it by hand.`,
    );
  }
  return fallback;
}

function scope(view: ConfigView, at: KeyPath, report: ConversionReport): string {
  const list = view.list([...at, "scopes"]);
  const scopes = (list ?? []).map((_, i) => view.text([...at, "scopes", i]) ?? "").filter((s) => s !== "");
  if (scopes.length > 0) return scopes.join(" ");
  if (list !== undefined) report.mas("changed", formatKey([...at, "scopes"]), 'is empty: the MAS provider asks for "openid".');
  return "openid";
}

function discoveryMode(view: ConfigView, at: KeyPath, report: ConversionReport): string {
  const discover = view.boolean([...at, "discover"]) ?? true;
  const skip = view.boolean([...at, "skip_verification"]) ?? false;
  if (!discover) return "disabled";
  if (!skip) return "oidc";
  report.mas(
    "changed",
    formatKey([...at, "skip_verification"]),
    "-> discovery_mode: insecure (discovery without metadata validation); set discovery_mode: oidc once the provider's metadata is valid.",
  );
  return "insecure";
}

function pkceMethod(view: ConfigView, at: KeyPath, report: ConversionReport): string | undefined {
  const method = view.string([...at, "pkce_method"]);
  if (method === undefined || ["auto", "always", "never"].includes(method)) return method;
  report.mas(
    "not-carried-over",
    formatKey([...at, "pkce_method"]),
    `"${method}" is not auto, always or never; MAS's default (auto) is used.`,
  );
  return undefined;
}

/** Synapse's `user_profile_method`: `auto` reads the userinfo endpoint only when `openid` is not requested. */
function fetchUserinfo(view: ConfigView, at: KeyPath, scopeText: string, report: ConversionReport): boolean {
  const method = view.string([...at, "user_profile_method"]) ?? "auto";
  if (method === "userinfo_endpoint") return true;
  if (method !== "auto") {
    report.mas(
      "not-carried-over",
      formatKey([...at, "user_profile_method"]),
      `"${method}" is not auto or userinfo_endpoint; read as auto.`,
    );
  }
  return !scopeText.split(" ").includes("openid");
}

/** `response_mode` is its own key in MAS; the other parameters are copied. */
function authorizationParameters(
  view: ConfigView,
  at: KeyPath,
  report: ConversionReport,
): Pick<Mapping, "response_mode" | "additional_authorization_parameters"> {
  const key: KeyPath = [...at, "additional_authorization_parameters"];
  const params: Record<string, string> = {};
  for (const name of Object.keys(view.mapping(key) ?? {})) params[name] = view.text([...key, name]) ?? "";
  const mode = params["response_mode"];
  delete params["response_mode"];
  let responseMode: string | undefined;
  if (mode !== undefined && ["query", "form_post"].includes(mode.toLowerCase())) responseMode = mode.toLowerCase();
  else if (mode !== undefined)
    report.mas(
      "not-carried-over",
      formatKey([...key, "response_mode"]),
      `"${mode}" is not query or form_post; MAS's default (query) is used.`,
    );
  return withoutUndefined({
    response_mode: responseMode,
    additional_authorization_parameters: Object.keys(params).length > 0 ? params : undefined,
  });
}

function checkEndpoints(provider: Mapping, label: string, report: ConversionReport): void {
  if (provider["discovery_mode"] !== "disabled") return;
  const missing = ["authorization_endpoint", "token_endpoint"].filter((k) => provider[k] === undefined);
  if (missing.length > 0) {
    report.mas(
      "not-carried-over",
      label,
      `has discover: false but no ${missing.join(" / ")}: set them on the MAS provider, which cannot discover them either.`,
    );
  }
}

/** The report line of a mapped provider: where it went and its main settings. */
function describeProvider(mapped: Mapping, index: number): string {
  const v = (key: string): string => String(mapped[key]);
  return (
    `-> upstream_oauth2.providers[${index}] with the new id ${v("id")}, synapse_idp_id: ${v("synapse_idp_id")}, scope "${v("scope")}", ` +
    `token_endpoint_auth_method: ${v("token_endpoint_auth_method")}, discovery_mode: ${v("discovery_mode")}, fetch_userinfo: ${v("fetch_userinfo")}. ` +
    `Register MAS's callback URL <http.public_base>upstream/callback/${v("id")} at the provider.`
  );
}

/** One Synapse provider as a MAS provider mapping, with its report lines. */
function mapProvider(view: ConfigView, { at, provider }: Located, index: number, report: ConversionReport): Mapping {
  const label = formatKey(at);
  const firstLine = report.entries.length;
  const clientId = view.text([...at, "client_id"]);
  if (clientId === undefined) view.fail([...at, "client_id"], "is missing; Synapse requires it");
  const secret = clientSecret(view, at, report);
  const scopeText = scope(view, at, report);
  const mapped: Mapping = withoutUndefined({
    id: newUlid(),
    synapse_idp_id: provider.authProviderId,
    issuer: view.string([...at, "issuer"]),
    human_name: view.string([...at, "idp_name"]),
    brand_name: view.string([...at, "idp_brand"]),
    client_id: clientId,
    client_secret: secret,
    token_endpoint_auth_method: authMethod(view, at, secret !== undefined, report),
    scope: scopeText,
    discovery_mode: discoveryMode(view, at, report),
    pkce_method: pkceMethod(view, at, report),
    fetch_userinfo: fetchUserinfo(view, at, scopeText, report),
    ...connectionSettings(view, at, report),
    ...authorizationParameters(view, at, report),
    forward_login_hint: view.boolean([...at, "forward_login_hint"]),
    claims_imports: claimsImports(view, at, report),
  });
  checkEndpoints(mapped, label, report);
  providerUnsupportedKeys(view, at, report);
  // The provider's own line goes before the lines about its keys.
  report.entries.splice(firstLine, 0, {
    target: "mas",
    action: "mapped",
    setting: label,
    message: describeProvider(mapped, index),
  });
  return mapped;
}

/** Every enabled OIDC provider of Synapse as a MAS `upstream_oauth2.providers` entry, each with a new ULID. */
export function mapOidcProviders(synapse: SynapseConfig, view: ConfigView, report: ConversionReport): Mapping[] {
  return locate(synapse, view, report).map((located, i) => mapProvider(view, located, i, report));
}
