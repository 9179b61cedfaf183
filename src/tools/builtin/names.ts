/** The built-in workspace tools, by name. */
export const BUILTIN_TOOL_NAMES = [
  "read_file",
  "write_file",
  "list_directory",
  "delete_file",
  "run_shell",
  "run_code",
] as const;
export type BuiltinToolName = (typeof BUILTIN_TOOL_NAMES)[number];
