/** The Synapse settings MAS cannot take over (CAS, SAML, JWT, password providers, guests, ...), each reported with what to do. */
import { isAuthModule, moduleNames, pythonTruthy } from "../synapse-semantics.ts";
import { stubAdvice, type LinkStub } from "./link-stubs.ts";
import type { ConversionReport } from "./report.ts";
import { isMapping, type ConfigView } from "../yaml-source.ts";

/** Why MAS cannot serve the users of each single-sign-on section directly (its stub says what to do instead). */
const SSO_SECTIONS: Record<string, string> = {
  cas_config: "MAS does not speak CAS:",
  saml2_config: "MAS does not speak SAML:",
  jwt_config: "MAS does not accept JWT logins:",
};

/** Top-level settings MAS has no equivalent for, reported when set (truthy). */
const NOT_CARRIED: Record<string, string> = {
  allow_guest_access:
    "MAS has no guest accounts and Synapse cannot offer guest access with MAS: turn it off (the --synapse-output file does).",
  user_consent:
    "MAS does not serve Synapse's consent form: set branding.tos_uri in MAS to your terms of service, which MAS asks new users to accept.",
  registration_shared_secret:
    "Synapse's shared-secret registration API is off with MAS: create users with `mas-cli manage register-user` or MAS's admin API instead.",
  refresh_token_lifetime:
    "MAS issues the tokens now (access tokens last 5 minutes unless experimental.access_token_ttl says otherwise); Synapse refuses this setting with MAS.",
  session_lifetime:
    "MAS manages session lifetimes (see experimental.inactive_session_expiration); Synapse refuses this setting with MAS.",
  nonrefreshable_access_token_lifetime: "MAS issues the tokens now; Synapse refuses this setting with MAS.",
  sso: "MAS shows its own login pages and asks clients for consent itself: sso.client_whitelist and Synapse's SSO templates no longer apply.",
  ui_auth: "MAS handles re-authentication itself: ui_auth no longer applies.",
};

/** The SSO sections enabled (those with a stub), each pointing at its stub and flag. */
function ssoSections(stubs: readonly LinkStub[], report: ConversionReport): void {
  for (const [key, why] of Object.entries(SSO_SECTIONS)) {
    const stub = stubs.find((s) => s.setting === key);
    if (stub !== undefined) report.mas("not-carried-over", key, `is enabled. ${why} ${stubAdvice(stub)}`);
  }
}

/** The password modules, pointing at the one stub that serves their users (linkStubs makes one whenever there is a module). */
function passwordProviders(view: ConfigView, stubs: readonly LinkStub[], report: ConversionReport): void {
  const stub = stubs.find((s) => s.kind === "ldap" || s.kind === "module");
  const advice =
    stub === undefined
      ? "connect that user directory to MAS as an upstream provider (e.g. Dex with its LDAP connector)."
      : stubAdvice(stub);
  const legacy = view.list(["password_providers"]) ?? [];
  if (legacy.length > 0) {
    const names = moduleNames(legacy);
    report.mas(
      "not-carried-over",
      "password_providers",
      `(${names.length > 0 ? names.join(", ") : `${legacy.length} entries`}) cannot run in MAS, which checks passwords only against the migrated hashes: ` +
        advice,
    );
  }
  for (const name of moduleNames(view.list(["modules"]))) {
    if (isAuthModule(name)) {
      report.mas(
        "not-carried-over",
        "modules",
        `${name} checks passwords or logs users in, which MAS now does; users without a local password hash cannot log in ` +
          `until their accounts are linked: ${advice}`,
      );
    } else {
      report.mas(
        "mapped",
        "modules",
        `${name} stays in Synapse; any authentication or registration callbacks it has no longer run.`,
      );
    }
  }
}

function otherSettings(view: ConfigView, report: ConversionReport): void {
  for (const [key, advice] of Object.entries(NOT_CARRIED)) {
    if (pythonTruthy(view.value([key]))) report.mas("not-carried-over", key, advice);
  }
  if (pythonTruthy((view.mapping(["login_via_existing_session"]) ?? {})["enabled"])) {
    report.mas(
      "not-carried-over",
      "login_via_existing_session",
      "MAS does not offer logging in through an existing session (MSC3882); MAS's device-code login (QR code sign-in) replaces it.",
    );
  }
  const experimental = view.mapping(["experimental_features"]) ?? {};
  if (isMapping(experimental["msc3861"]) && pythonTruthy(experimental["msc3861"]["enabled"])) {
    report.mas(
      "changed",
      "experimental_features.msc3861",
      "Synapse already delegates to an OAuth server through MSC3861: matrix_authentication_service replaces it; remove it.",
    );
  }
}

/**
 * Reports every Synapse setting that cannot be carried over to MAS, with what the operator must do; the
 * logins MAS cannot serve point at their provider stub (`stubs`, from linkStubs) and its --link flag.
 */
export function reportUnsupported(view: ConfigView, stubs: readonly LinkStub[], report: ConversionReport): void {
  ssoSections(stubs, report);
  passwordProviders(view, stubs, report);
  otherSettings(view, report);
}
