/** The old TypeScript tool's (`@matrix-org/syn2mas`) invocations, rewritten into this tool's. Pure. */

const LEGACY_COMMANDS: Record<string, "check" | "migrate"> = { advisor: "check", migrate: "migrate" };

const RENAMED: Record<string, string> = {
  "--synapseConfigFile": "--synapse-config",
  "--masConfigFile": "--config",
  "--upstreamProviderMapping": "--upstream-provider-mapping",
};

/** Splits `--flag=value` into its name and value. */
function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf("=");
  return eq > 0 && arg.startsWith("--") ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
}

/**
 * Rewrites `--command=advisor|migrate --synapseConfigFile F --masConfigFile F --dryRun [false]`
 * into `check|migrate --synapse-config F --config F [--dry-run]`. Arguments without `--command`
 * are returned unchanged. Throws a message for an unknown legacy command.
 */
export function translateLegacyArgs(args: readonly string[]): string[] {
  const commandIndex = args.findIndex((a) => splitFlag(a)[0] === "--command");
  if (commandIndex < 0) return [...args];
  const out: string[] = [];
  let command: "check" | "migrate" | undefined;
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = splitFlag(args[i] as string);
    const takeValue = (): string | undefined => inline ?? (args[i + 1]?.startsWith("--") ? undefined : args[++i]);
    if (name === "--command") {
      const value = takeValue() ?? "";
      command = LEGACY_COMMANDS[value];
      if (command === undefined) throw new Error(`--command=${value} is not a command of the old tool (advisor or migrate)`);
    } else if (name === "--dryRun") {
      // `--dryRun`, `--dryRun true`, `--dryRun=false`, `--dryRun false`
      let value = inline;
      if (value === undefined && (args[i + 1] === "true" || args[i + 1] === "false")) value = args[++i];
      if (value !== "false") out.push("--dry-run");
    } else if (name in RENAMED) {
      const value = takeValue();
      out.push(RENAMED[name] as string, ...(value === undefined ? [] : [value]));
    } else {
      out.push(args[i] as string);
    }
  }
  // `check` has no dry run: it never writes anything anyway.
  const rest = command === "check" ? out.filter((a) => a !== "--dry-run") : out;
  return [command as string, ...rest];
}
