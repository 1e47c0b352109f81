/** `syn2mas check`: the preconditions of a migration, without writing anything. */
import { parseAcceptedWarnings } from "../../checks/policy.ts";
import { check } from "../../pipeline/check.ts";
import { exitCodeFor } from "../exit-codes.ts";
import { loadSetup, type CommonOptions } from "../load.ts";
import type { Output } from "../output.ts";
import { checkVerdict, findingsJson, linkLines, renderFindings, renderSkipCounts } from "../render.ts";

export interface CheckCommandOptions extends CommonOptions {
  json: boolean;
  skipInvalidRows: boolean;
  acceptWarning: string[];
  acceptAllWarnings: boolean;
}

/** Runs the checks, shows what migrate would skip and the verdict, and returns the exit code (0, 10 or 11). */
export async function checkCommand(options: CheckCommandOptions, out: Output): Promise<number> {
  const policy = { acceptedWarnings: parseAcceptedWarnings(options.acceptWarning, options.acceptAllWarnings), strict: false };
  const setup = loadSetup(options);
  const { findings, wouldSkip, wouldLink } = await check({
    ...setup,
    allowRunningSynapse: true,
    skipInvalidRows: options.skipInvalidRows,
    policy,
  });
  out.info(renderFindings(findings, out.style).trimEnd());
  const links = linkLines("Would link (upstream_oauth_links by source):", wouldLink ?? {});
  if (links.length > 0) out.info(links.join("\n"));
  if (wouldSkip !== null) out.info(renderSkipCounts(wouldSkip).trimEnd());
  const exitCode = exitCodeFor("check", findings, policy);
  const verdict = checkVerdict(findings);
  out.info(verdict.text);
  if (options.json) {
    out.json({
      command: "check",
      status: verdict.status,
      exitCode,
      verdict: { errors: verdict.errors, unacceptedWarnings: verdict.unacceptedWarnings, text: verdict.text },
      findings: findingsJson(findings),
      wouldSkip,
      wouldLink,
    });
  }
  return exitCode;
}
