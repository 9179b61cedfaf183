import { z } from "zod/v4";
import { ConfigError } from "../../protocol/errors.js";
import { ToolFailure } from "../../protocol/tool-result.js";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import { toWorkspace, type Workspace } from "./workspace.js";
import { quotePath } from "./workspace-failure.js";

/** Default cap on the bytes one `write_file` call may write: 10 MiB. */
export const DEFAULT_MAX_WRITE_BYTES = 10 * 1024 * 1024;

export interface WriteFileToolOptions {
  readonly workspace: string | Workspace;
  /** Most bytes (UTF-8) one call may write (default 10 MiB); larger content is refused with `too_large`. */
  readonly maxWriteBytes?: number;
}

/** What `write_file` returns to the model. */
export interface WriteFileResult {
  readonly path: string;
  readonly bytes: number;
  /** The file did not exist before. */
  readonly created: boolean;
}

const input = z.object({
  path: z.string().describe("File path relative to the workspace root, e.g. src/new-module.ts"),
  content: z
    .string()
    .describe("The complete new content of the file, as UTF-8 text (replaces what was there)"),
  createDirectories: z
    .boolean()
    .optional()
    .describe("Create missing parent directories (default false: a missing parent is an error)"),
});

/**
 * `write_file`: creates or replaces a regular file inside the workspace. Never writes through a symlink
 * that leads outside, into a FIFO or device, or into `.rein/`; content over `maxWriteBytes` is refused
 * before anything is touched, and a refused or cancelled write leaves no new file behind.
 *
 * @example
 * const tool = writeFileTool({ workspace: "/home/me/project", maxWriteBytes: 1024 * 1024 });
 */
export function writeFileTool(options: WriteFileToolOptions): Tool {
  const workspace = toWorkspace(options.workspace);
  const cap = options.maxWriteBytes ?? DEFAULT_MAX_WRITE_BYTES;
  if (!Number.isSafeInteger(cap) || cap < 1) {
    throw new ConfigError(`write_file: maxWriteBytes must be a positive integer, got ${cap}.`, {
      maxWriteBytes: cap,
    });
  }
  return defineTool({
    name: "write_file",
    description:
      "Create or overwrite a text file inside the workspace with the given content " +
      `(at most ${cap} bytes). Set createDirectories to true to create missing parent directories.`,
    input,
    risk: { level: "MEDIUM", reason: "creates or overwrites a file inside the workspace" },
    // Writing the same content twice leaves the same file.
    idempotent: true,
    async execute({ path, content, createDirectories }, { signal }): Promise<WriteFileResult> {
      // Checked before the path is even opened: an oversized write touches nothing.
      const size = Buffer.byteLength(content, "utf8");
      if (size > cap) {
        throw new ToolFailure(
          "too_large",
          `Content for ${quotePath(path)} is ${size} bytes, over write_file's limit of ${cap} bytes (maxWriteBytes); nothing was written.`,
          { bytes: size, limit: cap },
        );
      }
      const { bytes, created } = await workspace.writeFile(path, content, {
        createDirectories: createDirectories ?? false,
        signal,
      });
      return { path, bytes, created };
    },
  });
}
