/** Synapse's Jinja OIDC mapping provider -> MAS `claims_imports` of an upstream provider. */
import type { ConversionReport } from "./report.ts";
import { formatKey, type ConfigView, type KeyPath, type Mapping } from "../yaml-source.ts";

/** The mapping-provider modules whose templates MAS understands (Jinja, with `user` holding the claims). */
const JINJA_MODULES = new Set([
  "synapse.handlers.oidc.JinjaOidcMappingProvider",
  "synapse.handlers.oidc_handler.JinjaOidcMappingProvider",
]);

/** Mapping-provider keys MAS cannot import, and what the operator can do. */
const NOT_IMPORTED: Record<string, string> = {
  picture_template: "MAS does not import avatars from the provider; users set their avatar in their client.",
  extra_attributes: "MAS passes no extra attributes to the homeserver; drop them or fetch them another way.",
};

/** `{{ user.<claim> }}`, or the subscript form for a claim name that is not an identifier. */
export function claimTemplate(claim: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(claim) ? `{{ user.${claim} }}` : `{{ user[${JSON.stringify(claim)}] }}`;
}

function subjectTemplate(view: ConfigView, config: KeyPath, report: ConversionReport): string | undefined {
  const template = view.string([...config, "subject_template"]);
  const claim = view.string([...config, "subject_claim"]);
  if (template !== undefined && claim !== undefined) {
    report.mas(
      "changed",
      formatKey([...config, "subject_claim"]),
      "ignored because subject_template is set too (as Synapse does); the subject comes from subject_template.",
    );
  }
  return template ?? (claim === undefined ? undefined : claimTemplate(claim));
}

/** Notes a Synapse-only Jinja filter that MAS's templates do not have. */
function checkFilters(template: string, key: KeyPath, report: ConversionReport): void {
  if (template.includes("localpart_from_email")) {
    report.mas(
      "changed",
      formatKey(key),
      "uses Synapse's localpart_from_email filter, which MAS's templates lack: rewrite it, e.g. `{{ (user.email | split('@'))[0] }}`, in claims_imports.",
    );
  }
}

/** The Jinja mapping provider's configuration keys this module reads. */
const KNOWN_CONFIG_KEYS = new Set([
  "subject_claim",
  "subject_template",
  "localpart_template",
  "display_name_template",
  "email_template",
  "confirm_localpart",
  ...Object.keys(NOT_IMPORTED),
]);

interface ClaimSpec {
  synapseKey: string;
  masKey: "localpart" | "displayname" | "email";
  /** The action without `confirm_localpart`. */
  action: "require" | "force";
}

const CLAIMS: ClaimSpec[] = [
  { synapseKey: "localpart_template", masKey: "localpart", action: "require" },
  { synapseKey: "display_name_template", masKey: "displayname", action: "force" },
  { synapseKey: "email_template", masKey: "email", action: "force" },
];

/** Whether the provider uses a mapping provider MAS can follow; reports the one it cannot. */
function usesJinja(view: ConfigView, at: KeyPath, report: ConversionReport): boolean {
  const module = view.string([...at, "module"]);
  if (module === undefined || JINJA_MODULES.has(module)) return true;
  report.mas(
    "not-carried-over",
    formatKey([...at, "module"]),
    `the custom mapping provider ${module} cannot run in MAS: write its rules as Jinja templates in this provider's claims_imports ` +
      "(subject, localpart, displayname, email); MAS's defaults are used until then.",
  );
  return false;
}

/**
 * The `claims_imports` of the MAS provider for the Synapse provider at `provider`: subject from
 * `subject_template` or `subject_claim`; localpart `require`, display name and email `force`, or all
 * `suggest` with `confirm_localpart`. Undefined when nothing is set (MAS's defaults then match Synapse's).
 */
export function claimsImports(view: ConfigView, provider: KeyPath, report: ConversionReport): Mapping | undefined {
  const mapper: KeyPath = [...provider, "user_mapping_provider"];
  view.mapping(mapper);
  if (!usesJinja(view, mapper, report)) return undefined;
  const config: KeyPath = [...mapper, "config"];
  view.mapping(config);
  const confirm = view.boolean([...config, "confirm_localpart"]) ?? false;
  const imports: Mapping = {};
  const subject = subjectTemplate(view, config, report);
  if (subject !== undefined) imports["subject"] = { template: subject };
  for (const spec of CLAIMS) {
    const template = view.string([...config, spec.synapseKey]);
    if (template === undefined) continue;
    checkFilters(template, [...config, spec.synapseKey], report);
    imports[spec.masKey] = { action: confirm ? "suggest" : spec.action, template };
  }
  for (const [key, advice] of Object.entries(NOT_IMPORTED)) {
    if (view.value([...config, key]) != null) report.mas("not-carried-over", formatKey([...config, key]), advice);
  }
  for (const key of Object.keys(view.mapping(config) ?? {}).filter((k) => !KNOWN_CONFIG_KEYS.has(k))) {
    report.mas(
      "not-carried-over",
      formatKey([...config, key]),
      "is not a setting of Synapse's Jinja mapping provider this tool knows: check whether claims_imports needs an equivalent.",
    );
  }
  if (Object.keys(imports).length === 0) return undefined;
  report.mas(
    "mapped",
    formatKey(config),
    `-> claims_imports: ${describeImports(imports)}${confirm ? " (confirm_localpart: every attribute is suggested)" : ""}.`,
  );
  return imports;
}

function describeImports(imports: Mapping): string {
  return Object.entries(imports)
    .map(([name, value]) => {
      const { action, template } = value as { action?: string; template: string };
      return `${name} ${action === undefined ? "" : `${action} `}${template}`;
    })
    .join(", ");
}
