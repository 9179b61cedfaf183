export { type DeleteFileResult, type DeleteFileToolOptions, deleteFileTool } from "./delete-file.js";
export {
  type DirectoryEntry,
  type ListDirectoryResult,
  type ListDirectoryToolOptions,
  listDirectoryTool,
} from "./list-directory.js";
export { type ReadFileResult, type ReadFileToolOptions, readFileTool } from "./read-file.js";
export { type RunCodeResult, type RunCodeToolOptions, runCodeTool } from "./run-code.js";
export { type RunShellResult, type RunShellToolOptions, runShellTool } from "./run-shell.js";
export { Workspace } from "./workspace.js";
export { parseWorkspacePath, RESERVED_DIR } from "./workspace-path.js";
export { type WorkspaceToolsOptions, workspaceTools } from "./workspace-tools.js";
export {
  DEFAULT_MAX_WRITE_BYTES,
  type WriteFileResult,
  type WriteFileToolOptions,
  writeFileTool,
} from "./write-file.js";
