/**
 * The layering rules (docs: README, "Layout"). Data flows one way:
 * configuration -> checks -> Synapse source -> pure mapping -> MAS target -> report,
 * with pipeline/ joining them and cli/ on top. Each rule below forbids an arrow running the other way.
 */
const layer = (name) => `^src/${name}/`;

/** A rule: files in `from` may import nothing in src/ but their own folder and `allowed` (folders under src/). */
function onlyImports(from, allowed, comment) {
  const ownAndAllowed = [from, ...allowed].map(layer).join("|");
  return {
    name: `${from}-imports-only-${allowed.join("-") || "itself"}`,
    comment,
    severity: "error",
    from: { path: layer(from) },
    to: { path: "^src/", pathNot: ownAndAllowed },
  };
}

module.exports = {
  forbidden: [
    onlyImports("model", [], "model/ holds plain types and pure rules about them: it depends on nothing."),
    onlyImports("errors", [], "errors/ is the vocabulary of failures every layer may use."),
    onlyImports("mapping", ["model"], "mapping/ is pure: Synapse rows in, MAS rows out; no I/O, no config."),
    onlyImports("source", ["model", "errors"], "source/ reads Synapse; it knows nothing of checks, mapping or MAS."),
    onlyImports("target", ["model", "errors"], "target/ writes MAS; it knows nothing of Synapse or the mapping."),
    onlyImports("config", ["model", "errors"], "config/ reads and generates configuration files; checks come after it."),
    onlyImports("report", ["model", "mapping"], "report/ counts what the pipeline did."),
    {
      name: "checks-not-pipeline-or-cli",
      comment: "checks/ judge inputs; they never run the migration or print.",
      severity: "error",
      from: { path: layer("checks") },
      to: { path: "^src/(pipeline|cli|mapping)/" },
    },
    {
      name: "checks-only-probe-from-target",
      comment:
        "checks/ may read MAS only through target/probe.ts (and know its list of schema migrations, and read " +
        "the migration's record, which ALREADY_MIGRATED names, and a stage's state, which STAGE_PRESENT names).",
      severity: "error",
      from: { path: layer("checks") },
      to: { path: "^src/target/", pathNot: "^src/target/(probe|mas-migrations|migration-record|stage)\\.ts$" },
    },
    {
      name: "nothing-imports-cli",
      comment: "cli/ is the top: it alone parses arguments, prints and sets the exit code.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "^src/cli/" },
    },
    {
      name: "no-circular",
      comment: "Modules form a tree; a cycle through type-only imports (no load order) is allowed.",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "src-not-tests",
      comment: "Production code never knows about tests, benches or scripts.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench|scripts)/|\\.test\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.test\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
