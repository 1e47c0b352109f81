/** The Synapse settings MAS cannot take over (CAS, SAML, JWT, password providers, guests, ...), each reported with what to do. */
import {
  isAuthModule,
  moduleNames,
  pythonTruthy,
  sectionEnabledByDefault,
  sectionEnabledExplicitly,
} from "../synapse-semantics.ts";
import type { ConversionReport } from "./report.ts";
import { isMapping, type ConfigView } from "../yaml-source.ts";

/** A single-sign-on section MAS does not speak, and how its users can reach MAS. */
interface SsoSection {
  key: string;
  enabled: (section: unknown) => boolean;
  advice: string;
}

const SSO_SECTIONS: SsoSection[] = [
  {
    key: "cas_config",
    enabled: sectionEnabledByDefault,
    advice:
      "MAS does not speak CAS: serve it through OpenID Connect (CAS's own OIDC support, or a bridge such as Dex) and add it to " +
      "upstream_oauth2.providers with synapse_idp_id: cas, so that existing CAS links carry over.",
  },
  {
    key: "saml2_config",
    enabled: sectionEnabledByDefault,
    advice:
      "MAS does not speak SAML: put an OIDC bridge such as Dex (SAML connector) in front of the identity provider and add it to " +
      "upstream_oauth2.providers with synapse_idp_id: saml, so that existing SAML links carry over.",
  },
  {
    key: "jwt_config",
    enabled: sectionEnabledExplicitly,
    advice:
      "MAS does not accept JWT logins: serve the identity source that issues them through OpenID Connect and add it to upstream_oauth2.providers.",
  },
];

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

function ssoSections(view: ConfigView, report: ConversionReport): void {
  for (const { key, enabled, advice } of SSO_SECTIONS) {
    if (enabled(view.value([key]))) report.mas("not-carried-over", key, `is enabled. ${advice}`);
  }
}

function passwordProviders(view: ConfigView, report: ConversionReport): void {
  const legacy = view.list(["password_providers"]) ?? [];
  if (legacy.length > 0) {
    const names = moduleNames(legacy);
    report.mas(
      "not-carried-over",
      "password_providers",
      `(${names.length > 0 ? names.join(", ") : `${legacy.length} entries`}) cannot run in MAS, which checks passwords only against the migrated hashes: ` +
        "connect that user directory to MAS as an upstream provider (e.g. Dex with its LDAP connector).",
    );
  }
  for (const name of moduleNames(view.list(["modules"]))) {
    if (isAuthModule(name)) {
      report.mas(
        "not-carried-over",
        "modules",
        `${name} checks passwords or logs users in, which MAS now does: connect that user directory to MAS as an upstream provider ` +
          "(e.g. Dex with its LDAP connector); users without a local password hash cannot log in until then.",
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

/** Reports every Synapse setting that cannot be carried over to MAS, with what the operator must do. */
export function reportUnsupported(view: ConfigView, report: ConversionReport): void {
  ssoSections(view, report);
  passwordProviders(view, report);
  otherSettings(view, report);
}
