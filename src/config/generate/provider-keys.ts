/** The smaller OIDC provider keys: endpoints, signing algorithm, back-channel logout, and those MAS lacks. */
import type { ConversionReport } from "./report.ts";
import { formatKey, withoutUndefined, type ConfigView, type KeyPath, type Mapping } from "../yaml-source.ts";

const ENDPOINTS = ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"];

/** Provider keys mapped by this module or by providers.ts / claims.ts. */
const MAPPED_KEYS = new Set([
  "enabled",
  "idp_id",
  "idp_name",
  "idp_brand",
  "issuer",
  "discover",
  "client_id",
  "client_secret",
  "client_secret_path",
  "client_auth_method",
  "pkce_method",
  "scopes",
  ...ENDPOINTS,
  "skip_verification",
  "user_profile_method",
  "additional_authorization_parameters",
  "forward_login_hint",
  "backchannel_logout_enabled",
  "backchannel_logout_ignore_sub",
  "id_token_signing_alg_values_supported",
  "user_mapping_provider",
]);

/** Provider keys MAS has no equivalent for, and what the operator can do instead. */
const UNSUPPORTED: Record<string, string> = {
  attribute_requirements:
    "MAS cannot require claims from the provider: restrict who may log in at the provider itself (e.g. a group or role " +
    "policy on the client), otherwise users Synapse turned away can log in to MAS.",
  allow_existing_users:
    "MAS links an upstream login to an existing user only when asked: set claims_imports.localpart.on_conflict: add on the MAS provider " +
    "(MAS versions that have it), or users whose localpart already exists cannot log in.",
  idp_icon: "MAS shows a logo by brand_name only (apple, google, facebook, github, gitlab, twitter); set brand_name if one fits.",
  client_secret_jwt_key:
    "MAS signs client assertions with its own keys (token_endpoint_auth_method: private_key_jwt uses secrets.keys, or client_secret_jwt): " +
    "configure the provider's client for one of them.",
  passthrough_authorization_parameters:
    'MAS forwards authorization parameters through templates: add e.g. `login_hint: "{{ params.login_hint }}"` to ' +
    "additional_authorization_parameters (MAS versions with templated parameters).",
  redirect_uri: "MAS's callback is <http.public_base>upstream/callback/<provider id>: register that at the provider.",
};

function signingAlgorithm(view: ConfigView, at: KeyPath, report: ConversionReport): string | undefined {
  const key: KeyPath = [...at, "id_token_signing_alg_values_supported"];
  const list = view.list(key);
  if (list === undefined) return undefined;
  if (list.length === 1 && typeof list[0] === "string") return list[0];
  report.mas(
    "not-carried-over",
    formatKey(key),
    "MAS expects one algorithm (id_token_signed_response_alg, default RS256): set the one the provider uses.",
  );
  return undefined;
}

function backchannelLogout(view: ConfigView, at: KeyPath, report: ConversionReport): string | undefined {
  const key: KeyPath = [...at, "backchannel_logout_enabled"];
  if (view.boolean(key) !== true) return undefined;
  report.mas(
    "changed",
    formatKey(key),
    "-> on_backchannel_logout: logout_all: a back-channel logout ends the MAS sessions started through that upstream session, as in Synapse.",
  );
  if (view.boolean([...at, "backchannel_logout_ignore_sub"]) === true) {
    report.mas(
      "not-carried-over",
      formatKey([...at, "backchannel_logout_ignore_sub"]),
      "MAS always checks the sub of logout tokens: fix the provider to send it.",
    );
  }
  return "logout_all";
}

/** Endpoints, the ID token algorithm and the back-channel logout action of the MAS provider (unset ones left out). */
export function connectionSettings(view: ConfigView, at: KeyPath, report: ConversionReport): Mapping {
  const endpoints = Object.fromEntries(ENDPOINTS.map((name) => [name, view.string([...at, name])]));
  return withoutUndefined({
    ...endpoints,
    id_token_signed_response_alg: signingAlgorithm(view, at, report),
    on_backchannel_logout: backchannelLogout(view, at, report),
  });
}

/** Reports the provider's keys MAS cannot carry (with advice) and any key this tool does not know. */
export function providerUnsupportedKeys(view: ConfigView, at: KeyPath, report: ConversionReport): void {
  for (const key of Object.keys(view.mapping(at) ?? {})) {
    if (MAPPED_KEYS.has(key) || view.value([...at, key]) == null) continue;
    const advice = UNSUPPORTED[key];
    if (key === "enable_registration") {
      if (view.boolean([...at, key]) === false) {
        report.mas(
          "not-carried-over",
          formatKey([...at, key]),
          "MAS lets anyone this provider authenticates register: restrict sign-ups with MAS's policy or at the provider.",
        );
      }
    } else if (advice !== undefined) {
      report.mas("not-carried-over", formatKey([...at, key]), advice);
    } else {
      report.mas(
        "not-carried-over",
        formatKey([...at, key]),
        "is not a setting this tool knows: check whether the MAS provider needs an equivalent.",
      );
    }
  }
}
