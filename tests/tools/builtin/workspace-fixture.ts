import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { ToolFailure } from "../../../src/protocol/tool-result.js";
import type { Tool, ToolContext } from "../../../src/tools/tool.js";

/** A real temporary workspace and, beside it, a directory the agent must never reach. */
export interface TempWorkspace {
  /** The workspace root (a real path). */
  readonly root: string;
  /** A sibling of the root holding `secret.txt`. */
  readonly outside: string;
  readonly secret: string;
  /** Writes a file under the root, creating directories. */
  file(rel: string, content: string): string;
  symlink(rel: string, target: string): void;
  mkfifo(rel: string): string;
  cleanup(): void;
}

export const SECRET = "TOP-SECRET-CONTENT\n";

export function tempWorkspace(): TempWorkspace {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-ws-")));
  const root = path.join(base, "ws");
  const outside = path.join(base, "outside");
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  const secret = path.join(outside, "secret.txt");
  fs.writeFileSync(secret, SECRET);
  return {
    root,
    outside,
    secret,
    file(rel, content) {
      const p = path.join(root, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
      return p;
    },
    symlink(rel, target) {
      fs.symlinkSync(target, path.join(root, rel));
    },
    mkfifo(rel) {
      const p = path.join(root, rel);
      execFileSync("mkfifo", [p]);
      return p;
    },
    cleanup() {
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

export function toolContext(signal: AbortSignal = new AbortController().signal): ToolContext {
  return {
    signal,
    callId: "call-1",
    idempotencyKey: "key-1",
    sessionId: "s-1",
    runId: "r-1",
    tenantId: "t-1",
    turn: 1,
  };
}

/** Calls a tool as the pipeline does: parse with its schema, then execute. */
export async function callTool(tool: Tool, input: unknown, signal?: AbortSignal): Promise<unknown> {
  const parsed = tool.parse(input);
  if (!parsed.ok) throw new Error(`invalid input for ${tool.name}: ${parsed.message}`);
  return tool.execute(parsed.value, toolContext(signal));
}

/** Asserts the call was refused with this ToolFailure type and a message matching `message`. */
export async function expectFailure(
  promise: Promise<unknown>,
  type: string,
  message: RegExp,
): Promise<ToolFailure> {
  const err = await promise.then(
    (value) => {
      throw new Error(`expected ToolFailure "${type}", but the call returned ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolFailure);
  const failure = err as ToolFailure;
  expect({ type: failure.type, message: failure.message }).toEqual({
    type,
    message: expect.stringMatching(message),
  });
  return failure;
}
