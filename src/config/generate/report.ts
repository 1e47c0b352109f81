/** The conversion report of `config generate`: one line per Synapse setting mapped, changed or not carried over. */

/** What happened to a Synapse setting. */
export type ReportAction =
  /** Carried over to MAS as it was. */
  | "mapped"
  /** Carried over with a different meaning or value, or left for the operator to finish. */
  | "changed"
  /** MAS has no equivalent: the operator must act (the message says how). */
  | "not-carried-over"
  /** Removed from Synapse's configuration after the migration. */
  | "removed"
  /** Set to false in Synapse's configuration after the migration. */
  | "turned-off"
  /** Added to Synapse's configuration after the migration. */
  | "added";

/** One line of the report. */
export interface ReportEntry {
  /** The file the line is about: the generated MAS configuration, or Synapse's configuration after the migration. */
  target: "mas" | "synapse";
  action: ReportAction;
  /** The Synapse setting, as the operator writes it (`oidc_providers[0].scopes`). */
  setting: string;
  /** What happened and what to do. Never contains a secret value. */
  message: string;
}

/** The link of one upstream provider stub of the generated configuration (issue 15): what `check`, `migrate` and `verify` need. */
export interface ReportLink {
  /** The Synapse setting whose users the provider serves (`saml2_config`, `modules`, ...). */
  setting: string;
  /** The stub's provider id (ULID). */
  providerId: string;
  /** The `--link` value (SOURCE=ULID[:SUBJECT]); undefined when the users have no flag of their own (`note` says why). */
  link: string | undefined;
  /** Said instead of a flag. */
  note?: string;
}

/** A `--link` flag as the operator types it, quoted for the shell (`{...}` is special to some shells). */
export function linkFlag(link: string): string {
  return `--link '${link}'`;
}

/** Collects report lines in order; {@link ConversionReport.redact} hides secret values before anything is shown. */
export class ConversionReport {
  readonly entries: ReportEntry[] = [];
  /** The `--link` flags for the provider stubs, in the order of the stubs. */
  readonly links: ReportLink[] = [];

  /** Adds a line about the generated MAS configuration. */
  mas(action: ReportAction, setting: string, message: string): void {
    this.entries.push({ target: "mas", action, setting, message });
  }

  /** Adds a line about Synapse's configuration after the migration. */
  synapse(action: ReportAction, setting: string, message: string): void {
    this.entries.push({ target: "synapse", action, setting, message });
  }

  /**
   * Replaces every occurrence of a secret in the messages by `<secret>`. Messages are written not to
   * contain secrets; this is the safety net for a value that is also a secret (e.g. a client id equal to its secret).
   */
  redact(secrets: readonly (string | undefined)[]): void {
    const values = secrets.filter((s): s is string => typeof s === "string" && s.length >= 4);
    for (const entry of this.entries) {
      for (const value of values) entry.message = entry.message.split(value).join("<secret>");
    }
  }
}

const LABELS: Record<ReportAction, string> = {
  mapped: "mapped",
  changed: "changed",
  "not-carried-over": "NOT CARRIED OVER",
  removed: "removed",
  "turned-off": "turned off",
  added: "added",
};

const LABEL_WIDTH = Math.max(...Object.values(LABELS).map((l) => l.length));

function renderLine(entry: ReportEntry): string {
  const separator = entry.message.startsWith("->") ? " " : ": ";
  return `  ${LABELS[entry.action].padEnd(LABEL_WIDTH)}  ${entry.setting}${separator}${entry.message}`;
}

/** The section naming the `--link` flags to pass once the provider stubs are filled in. */
function renderLinks(links: readonly ReportLink[]): string[] {
  if (links.length === 0) return [];
  return [
    "Linking SAML, CAS, LDAP and JWT users: the MAS configuration holds a commented upstream provider for each; " +
      "uncomment it, fill it in as its comments say, run `mas-cli config sync`, then pass these flags to " +
      "`syn2mas check`, `syn2mas migrate` and `syn2mas verify`:",
    ...links.map(
      (l) => `  ${l.link === undefined ? `${l.setting} (provider ${l.providerId}): ${l.note ?? ""}` : linkFlag(l.link)}`,
    ),
  ];
}

/**
 * The report as text for stderr: a section for the MAS configuration, when there are such lines one for
 * Synapse's configuration after the migration, and when there are provider stubs the `--link` flags to pass.
 * Ends with a count of what needs the operator.
 */
export function renderConversionReport(
  entries: readonly ReportEntry[],
  synapseOutput?: string,
  links: readonly ReportLink[] = [],
): string {
  const mas = entries.filter((e) => e.target === "mas");
  const synapse = entries.filter((e) => e.target === "synapse");
  const lines = ["Conversion report: Synapse configuration -> MAS configuration", ...mas.map(renderLine)];
  if (synapse.length > 0) {
    lines.push(
      `Synapse configuration after the migration${synapseOutput === undefined ? "" : ` (${synapseOutput})`}`,
      ...synapse.map(renderLine),
    );
  }
  lines.push(...renderLinks(links));
  const todo = entries.filter((e) => e.action === "not-carried-over").length;
  const changed = entries.filter((e) => e.action === "changed").length;
  lines.push(`${todo} setting(s) not carried over and ${changed} changed: read those lines before starting MAS.`);
  return lines.join("\n");
}
