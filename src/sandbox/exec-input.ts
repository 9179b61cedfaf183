import fs from "node:fs/promises";
import path from "node:path";
import { SandboxError } from "../protocol/errors.js";
import type { CodeLanguage, ExecOptions } from "./sandbox.js";

/** A string runs through `/bin/sh -c`; an array is the argv itself. */
export function toArgv(command: string | readonly string[]): [string, string[]] {
  if (typeof command === "string") return ["/bin/sh", ["-c", command]];
  const [file, ...args] = command;
  if (file === undefined || file === "")
    throw new SandboxError("The argv to run is empty; give at least the program name.");
  return [file, [...args]];
}

/** The program that reads `language` source from stdin. */
export function codeArgv(language: CodeLanguage): string[] {
  switch (language) {
    case "python":
      return ["python3", "-"];
    case "javascript":
      return ["node", "-"];
    case "shell":
      return ["/bin/sh", "-s"];
  }
}

export function checkTimeout(timeoutMs: number | undefined): void {
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new SandboxError(`timeoutMs must be a positive number, got ${timeoutMs}.`, { timeoutMs });
  }
}

export function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root === "/" ? "/" : `${root}/`);
}

/**
 * A workspace-relative path for put/get: not empty, not absolute, no NUL, no `..` leaving the
 * workspace. Backends then open it with their own confinement (the sandbox's view, or O_NOFOLLOW).
 */
export function workspaceRelative(workspace: string, p: string): string {
  const refuse = (why: string) =>
    new SandboxError(`path ${JSON.stringify(p)} ${why}.`, { path: p, workspace });
  if (p === "" || p.includes("\0")) throw refuse("is empty or contains a NUL byte");
  if (path.isAbsolute(p)) throw refuse("is absolute; it must be relative to the workspace");
  const lexical = path.resolve(workspace, p);
  if (!isInside(workspace, lexical) || lexical === workspace)
    throw refuse('leaves the workspace through ".." or names the workspace itself');
  return path.relative(workspace, lexical);
}

/** `cwd` must be a directory inside the workspace, also after following symlinks. Returns the host path. */
export async function resolveCwd(workspace: string, cwd: ExecOptions["cwd"]): Promise<string> {
  if (cwd === undefined || cwd === "" || cwd === ".") return workspace;
  const refuse = (why: string) => new SandboxError(`cwd ${JSON.stringify(cwd)} ${why}.`, { cwd, workspace });
  if (cwd.includes("\0")) throw refuse("contains a NUL byte");
  if (path.isAbsolute(cwd)) throw refuse("is absolute; it must be relative to the workspace");
  const lexical = path.resolve(workspace, cwd);
  if (!isInside(workspace, lexical)) throw refuse('leaves the workspace through ".."');
  let real: string;
  try {
    real = await fs.realpath(lexical);
  } catch {
    throw refuse("does not exist");
  }
  if (!isInside(workspace, real)) throw refuse(`resolves to ${JSON.stringify(real)}, outside the workspace`);
  if (!(await fs.stat(real)).isDirectory()) throw refuse("is not a directory");
  return real;
}
