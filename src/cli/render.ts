/** Findings and reports as text for people (stderr) or JSON for programs (stdout). */
import type { Finding } from "../checks/finding.ts";
import type { MigrationReport, StageSummary } from "../report/report.ts";
import { PLAIN, severityLabel, wrapWords, type TextStyle } from "./style.ts";

/**
 * One block per finding: severity, code, message, count and examples. On a terminal (see {@link TextStyle})
 * the severity is coloured and the lines are wrapped at word boundaries to its width.
 */
export function renderFindings(findings: Finding[], style: TextStyle = PLAIN): string {
  if (findings.length === 0) return "checks: no problems found\n";
  return findings
    .map((f) => {
      const label = f.severity.toUpperCase();
      const head = `${label}${f.accepted ? " (accepted)" : ""} ${f.code}${f.count !== undefined ? ` (${f.count})` : ""}: ${f.message}`;
      // Wrapped before colouring, so the escape codes do not count towards the width.
      const text = severityLabel(f.severity, style) + wrapWords(head, style.width, 4).slice(label.length);
      const examples = f.examples?.length ? `\n${wrapWords(`    e.g. ${f.examples.join(", ")}`, style.width, 9)}` : "";
      return text + examples + "\n";
    })
    .join("");
}

/** What `check` concludes, for its last line and its JSON. */
export interface CheckVerdict {
  status: "ready" | "blocked" | "warnings";
  errors: number;
  /** Codes of the warnings not accepted, in the order found. */
  unacceptedWarnings: string[];
  /** The last line of `check`'s text output. */
  text: string;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * Ready to migrate, blocked by N errors, or N unaccepted warnings with the exact flags that accept them;
 * matches {@link exitCodeFor}'s 0, 10 and 11 for `check`.
 */
export function checkVerdict(findings: Finding[]): CheckVerdict {
  const errors = findings.filter((f) => f.severity === "error").length;
  const unacceptedWarnings = [
    ...new Set(findings.filter((f) => f.severity === "warning" && f.accepted !== true).map((f) => f.code)),
  ];
  const acceptedWarnings = findings.filter((f) => f.severity === "warning" && f.accepted === true).length;
  const flags = unacceptedWarnings.map((code) => `--accept-warning ${code}`).join(" ");
  if (errors > 0) {
    const alsoWarnings =
      unacceptedWarnings.length === 0 ? "" : ` (and ${plural(unacceptedWarnings.length, "unaccepted warning")}: ${flags})`;
    return {
      status: "blocked",
      errors,
      unacceptedWarnings,
      text: `Verdict: blocked by ${plural(errors, "error")}${alsoWarnings}; fix the errors above, then run check again.`,
    };
  }
  if (unacceptedWarnings.length > 0) {
    const them = unacceptedWarnings.length === 1 ? "it" : "them";
    return {
      status: "warnings",
      errors,
      unacceptedWarnings,
      text: `Verdict: ${plural(unacceptedWarnings.length, "unaccepted warning")}; fix ${them}, or accept ${them} with: ${flags}`,
    };
  }
  const accepted = acceptedWarnings === 0 ? "" : ` (${plural(acceptedWarnings, "warning")} accepted)`;
  return { status: "ready", errors, unacceptedWarnings, text: `Verdict: ready to migrate${accepted}.` };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/** One aligned line per entity and reason with its count, or "nothing"; shared by the report and `check`. */
function skipLines(skipped: MigrationReport["skipped"]): string[] {
  const lines: string[] = [];
  for (const [entity, reasons] of Object.entries(skipped)) {
    for (const [reason, count] of Object.entries(reasons ?? {})) lines.push(`  ${pad(entity, 22)} ${pad(reason, 26)} ${count}`);
  }
  return lines.length === 0 ? ["  nothing"] : lines;
}

/** What `check` counted that `migrate` would skip, in the same layout as the report's "Skipped" section. */
export function renderSkipCounts(skipped: MigrationReport["skipped"]): string {
  return ["Would skip (not migrated):", ...skipLines(skipped)].join("\n") + "\n";
}

/** One aligned line per link SOURCE with its count; none when nothing is linked. */
export function linkLines(heading: string, links: MigrationReport["links"]): string[] {
  const entries = Object.entries(links).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? [] : [heading, ...entries.map(([source, count]) => `  ${pad(source, 34)} ${count}`)];
}

/** The migration report as an aligned text table. */
function stageHeadline(stage: StageSummary | undefined): string {
  if (stage === undefined) return "Migration committed.";
  return stage.cutOver ? "Migration committed: the stage moved into MAS's tables." : "Stage brought up to date.";
}

function stageLine(stage: StageSummary): string {
  const read =
    stage.mode === "full"
      ? "every Synapse row was read (a new stage)"
      : `${stage.usersReread} Synapse users whose rows changed were read again`;
  const advisory = stage.advisorySkipped
    ? "\nThe warnings and information about Synapse's data were not computed again: they cannot stop a cut-over " +
      "(--strict computes them), and the last prepare reported them."
    : "";
  return `Stage first prepared at ${stage.createdAt}; in this run ${read}.${advisory}`;
}

export function renderReport(report: MigrationReport): string {
  const lines: string[] = [];
  const { stage } = report;
  lines.push(report.dryRun ? "Dry run: everything below was written, checked, then rolled back." : stageHeadline(stage));
  if (stage) lines.push(stageLine(stage));
  const preparing = stage !== undefined && !stage.cutOver;
  lines.push("", preparing ? "Held in the stage (syn2mas_stage, which MAS does not read):" : "Written to MAS:");
  for (const [table, rows] of Object.entries(report.written)) lines.push(`  ${pad(table, 34)} ${rows}`);
  // A delta read only the changed users: its skips, notes and links are theirs alone.
  const ofThisRun = stage?.mode === "delta" ? " (in the rows read in this run)" : "";
  const links = linkLines(`Upstream links by source (upstream_oauth_links)${ofThisRun}:`, report.links);
  if (links.length > 0) lines.push("", ...links);
  lines.push("", `Skipped (not migrated)${ofThisRun}:`, ...skipLines(report.skipped));
  const notes = Object.entries(report.notes);
  if (notes.length > 0) {
    lines.push("", "Notes:");
    for (const [entity, byNote] of notes) {
      for (const [note, count] of Object.entries(byNote ?? {})) lines.push(`  ${pad(entity, 22)} ${pad(note, 30)} ${count}`);
    }
  }
  lines.push("", "Phases:");
  for (const p of report.phases)
    lines.push(`  ${pad(p.name, 24)} ${pad(String(p.sourceRows), 10)} rows read  ${p.seconds.toFixed(2)} s`);
  lines.push(`  ${pad("total", 24)} ${pad("", 10)}            ${report.totalSeconds.toFixed(2)} s`);
  return lines.join("\n") + "\n";
}

/** A finding in the JSON output: every field present, `accepted` false unless the operator accepted it. */
export interface FindingJson {
  code: Finding["code"];
  severity: Finding["severity"];
  message: string;
  count: number | null;
  examples: string[];
  accepted: boolean;
}

/** Findings in the JSON shape (see {@link FindingJson}). */
export function findingsJson(findings: Finding[]): FindingJson[] {
  return findings.map((f) => ({
    code: f.code,
    severity: f.severity,
    message: f.message,
    count: f.count ?? null,
    examples: f.examples ?? [],
    accepted: f.accepted === true,
  }));
}
