/** `syn2mas config generate`: MAS's configuration (and Synapse's, after the migration) from homeserver.yaml. */
import fs from "node:fs";
import path from "node:path";
import { generateMasConfig, masConfigYaml } from "../../config/generate/mas-config.ts";
import { renderConversionReport } from "../../config/generate/report.ts";
import { synapseAfterYaml } from "../../config/generate/synapse-after.ts";
import { loadSynapseConfig } from "../../config/synapse.ts";
import { UserError } from "../../errors/user-error.ts";
import type { Output } from "../output.ts";

export interface ConfigGenerateOptions {
  synapseConfig: string[];
  output?: string;
  synapseOutput?: string;
  force: boolean;
  json: boolean;
}

/** Where raw text goes when no --output is given (stdout). */
export type TextSink = (text: string) => void;

const writeStdout: TextSink = (text) => {
  process.stdout.write(text);
};

/** Refuses to overwrite an input file, or any existing file without --force. */
function checkTarget(file: string, flag: string, inputs: readonly string[], force: boolean): void {
  const target = path.resolve(file);
  if (inputs.some((input) => path.resolve(input) === target)) {
    throw new UserError(
      `${flag} ${file} is one of the Synapse configuration files read`,
      `write to another file; the original stays as it is`,
    );
  }
  if (!force && fs.existsSync(target)) {
    throw new UserError(
      `${flag} ${file} already exists`,
      "choose a new file, or pass --force to replace it (a MAS configuration in use holds secrets that must not change)",
    );
  }
}

/** Writes a file readable by its owner only: both outputs hold secrets. */
function writePrivate(file: string, text: string, flag: string): void {
  try {
    fs.writeFileSync(file, text, { mode: 0o600 });
    fs.chmodSync(file, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unknown error";
    throw new UserError(`${flag} ${file} cannot be written (${code})`, "choose a writable path", { cause: error });
  }
}

/**
 * Generates the MAS configuration, writes it (to --output or stdout) and, with --synapse-output,
 * Synapse's configuration for after the migration; prints the conversion report on stderr (and, with
 * --json, the report and the configuration as JSON on stdout). Returns the exit code, 0.
 */
export async function configGenerateCommand(
  options: ConfigGenerateOptions,
  out: Output,
  stdout: TextSink = writeStdout,
): Promise<number> {
  if (options.synapseConfig.length === 0) {
    throw new UserError("no Synapse configuration given", "pass --synapse-config homeserver.yaml (a file or a directory)");
  }
  const synapse = loadSynapseConfig(options.synapseConfig);
  if (options.output !== undefined) checkTarget(options.output, "--output", synapse.files, options.force);
  if (options.synapseOutput !== undefined) checkTarget(options.synapseOutput, "--synapse-output", synapse.files, options.force);
  const generated = generateMasConfig(synapse);
  const masYaml = masConfigYaml(generated);
  const delegation = { endpoint: generated.publicBase, secret: generated.secrets.matrixSecret };
  const synapseYaml = options.synapseOutput === undefined ? undefined : synapseAfterYaml(synapse, delegation, generated.report);
  if (options.output !== undefined) writePrivate(options.output, masYaml, "--output");
  if (options.synapseOutput !== undefined && synapseYaml !== undefined)
    writePrivate(options.synapseOutput, synapseYaml, "--synapse-output");
  out.info(renderConversionReport(generated.report.entries, options.synapseOutput, generated.report.links));
  if (options.output !== undefined)
    out.info(`MAS configuration written to ${options.output} (readable by you only: it holds secrets).`);
  if (options.synapseOutput !== undefined)
    out.info(`Synapse configuration for after the migration written to ${options.synapseOutput}.`);
  if (options.json) {
    out.json({
      command: "config generate",
      output: options.output ?? null,
      synapseOutput: options.synapseOutput ?? null,
      config: generated.config,
      report: generated.report.entries,
      links: generated.report.links,
    });
  } else if (options.output === undefined) {
    stdout(masYaml);
  }
  return 0;
}
