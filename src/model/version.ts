/** The tool's version: shown by --version and kept in the record of each migration. */
export const TOOL_VERSION = "0.1.0";
