/** `syn2mas status`: where the deployment stands in the migration's lifecycle, read from both sides. */
import { status, type StatusOutcome } from "../../pipeline/status.ts";
import { EXIT_OK } from "../exit-codes.ts";
import { loadSetup, type CommonOptions } from "../load.ts";
import type { Output } from "../output.ts";

export interface StatusCommandOptions extends Omit<CommonOptions, "synapseConnections"> {
  json: boolean;
}

/** The state on the first line, then the evidence, then what to do next. */
export function renderStatus(outcome: StatusOutcome): string {
  const lines = [`State: ${outcome.state}`, ...outcome.evidence.map((e) => `  - ${e.message}`), `Next: ${outcome.next}`];
  return lines.join("\n");
}

/** Reads both sides, prints the state; 0 whenever both could be read (a UserError otherwise). */
export async function statusCommand(options: StatusCommandOptions, out: Output): Promise<number> {
  // One connection: status's few queries need no others in the snapshot.
  const setup = loadSetup({ ...options, synapseConnections: "1" });
  const outcome = await status(setup);
  out.info(renderStatus(outcome));
  if (options.json) out.json({ command: "status", ...outcome });
  return EXIT_OK;
}
