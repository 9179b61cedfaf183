import { z } from "zod/v4";
import { ConfigError } from "../../protocol/errors.js";
import { ToolFailure } from "../../protocol/tool-result.js";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";
import { toWorkspace, type Workspace } from "./workspace.js";
import { quotePath, throwIfAborted, workspaceFailure } from "./workspace-failure.js";

/** Default cap on the bytes one `read_file` call returns. */
export const DEFAULT_MAX_READ_BYTES = 256 * 1024;
// Git's heuristic: a NUL byte in the first 8000 bytes means binary.
const BINARY_SNIFF_BYTES = 8000;

export interface ReadFileToolOptions {
  readonly workspace: string | Workspace;
  /** Most bytes one call returns (default 256 KiB); a larger `limit` is clamped to it. */
  readonly maxReadBytes?: number;
}

/** What `read_file` returns to the model. */
export interface ReadFileResult {
  readonly path: string;
  readonly content: string;
  /** Bytes of the file this call covered (`offset + bytes` is where to continue). */
  readonly bytes: number;
  readonly offset: number;
  /** The file's size when it was opened. */
  readonly size: number;
  /** More of the file follows what was returned. */
  readonly truncated: boolean;
  readonly note?: string;
}

const input = z.object({
  path: z.string().describe("File path relative to the workspace root, e.g. src/index.ts"),
  offset: z.number().int().min(0).optional().describe("Byte offset to start reading at (default 0)"),
  limit: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("Most bytes to read (default and maximum: the tool's read cap)"),
});

/**
 * `read_file`: reads a UTF-8 text file inside the workspace, in byte ranges.
 * Binary files (a NUL byte in the first 8000 bytes read) are refused with `binary_file`.
 *
 * @example
 * const tool = readFileTool({ workspace: "/home/me/project" });
 */
export function readFileTool(options: ReadFileToolOptions): Tool {
  const workspace = toWorkspace(options.workspace);
  const cap = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  if (!Number.isSafeInteger(cap) || cap < 1) {
    throw new ConfigError(`read_file: maxReadBytes must be a positive integer, got ${cap}.`, {
      maxReadBytes: cap,
    });
  }
  return defineTool({
    name: "read_file",
    description:
      `Read a text file inside the workspace. Returns at most ${cap} bytes per call; when truncated is true, ` +
      "call again with offset set to offset + bytes to continue.",
    input,
    risk: { level: "LOW", reason: "reads a file inside the workspace" },
    readOnly: true,
    idempotent: true,
    async execute({ path, offset = 0, limit }, { signal }): Promise<ReadFileResult> {
      throwIfAborted(signal, "read_file", path);
      const want = Math.min(limit ?? cap, cap);
      const { handle, size } = await workspace.openForRead(path);
      let buffer: Buffer;
      try {
        // One byte more than wanted tells whether anything follows, even if the file grew after fstat.
        buffer = Buffer.alloc(want + 1);
        let filled = 0;
        while (filled < buffer.length) {
          const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        buffer = buffer.subarray(0, filled);
      } catch (err) {
        throw workspaceFailure(err, path);
      } finally {
        await handle.close();
      }
      const truncated = buffer.length > want;
      const chunk = truncated ? buffer.subarray(0, utf8Boundary(buffer, want)) : buffer;
      const nul = chunk.subarray(0, BINARY_SNIFF_BYTES).indexOf(0);
      if (nul !== -1) {
        throw new ToolFailure(
          "binary_file",
          `Path ${quotePath(path)} looks binary (NUL byte at offset ${offset + nul}); read_file returns text only.`,
        );
      }
      const result: ReadFileResult = {
        path,
        content: chunk.toString("utf8"),
        bytes: chunk.length,
        offset,
        size,
        truncated,
      };
      if (!truncated) return result;
      return {
        ...result,
        note: `Output stopped at ${chunk.length} bytes; continue with offset ${offset + chunk.length}.`,
      };
    },
  });
}

/** @internal The largest cut at or before `end` that does not split a UTF-8 character (unless that would leave nothing). */
export function utf8Boundary(buffer: Buffer, end: number): number {
  let start = end;
  // Step back over continuation bytes (10xxxxxx) to the lead byte of the character that spans `end`.
  while (start > 0 && end - start < 4 && ((buffer[start] ?? 0) & 0xc0) === 0x80) start--;
  return start > 0 ? start : end;
}
