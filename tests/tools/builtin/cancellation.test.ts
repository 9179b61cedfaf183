import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { workspaceTools } from "../../../src/tools/builtin/index.js";
import type { Tool } from "../../../src/tools/tool.js";
import { callTool, expectFailure, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

/** The built-in tools stop between operations once the call's signal aborts, and say so (`cancelled`). */
describe("workspace tools honour the call's AbortSignal", () => {
  let t: TempWorkspace;
  let read: Tool;
  let write: Tool;
  let list: Tool;
  let del: Tool;
  let controller: AbortController;

  /** Aborts the call right after the `n`-th call of `fsp[method]` completes: a deterministic mid-walk cancel. */
  const abortAfter = (method: "unlink" | "readdir" | "open", n: number) => {
    const original = fsp[method] as (...args: unknown[]) => Promise<unknown>;
    let calls = 0;
    vi.spyOn(fsp, method).mockImplementation((async (...args: unknown[]) => {
      const result = await original(...args);
      if (++calls === n) controller.abort();
      return result;
    }) as never);
  };

  beforeEach(() => {
    t = tempWorkspace();
    [read, write, list, del] = workspaceTools({ workspace: t.root }) as [Tool, Tool, Tool, Tool];
    controller = new AbortController();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    t.cleanup();
  });

  it("a recursive delete stops mid-walk, leaves the rest, and reports how far it got", async () => {
    for (let i = 0; i < 10; i++) t.file(`tree/f${i}.txt`, "x");
    abortAfter("unlink", 3);
    await expectFailure(
      callTool(del, { path: "tree", recursive: true }, controller.signal),
      "cancelled",
      /^delete_file on "tree" was cancelled and stopped after removing 3 entries; the rest of the tree is still there\.$/,
    );
    expect(fs.readdirSync(path.join(t.root, "tree"))).toHaveLength(7);
  });

  it("a recursive listing stops between directories", async () => {
    for (const d of ["a", "b", "c", "d"]) t.file(`${d}/x.txt`, "x");
    abortAfter("readdir", 2);
    await expectFailure(
      callTool(list, { path: ".", recursive: true }, controller.signal),
      "cancelled",
      /^list_directory on "\." was cancelled and stopped after 3 entries\.$/,
    );
  });

  it("write_file aborted after the file was opened writes nothing into an existing file", async () => {
    const file = t.file("a.txt", "original");
    abortAfter("open", 2); // 1: the root directory; 2: the file itself
    await expectFailure(
      callTool(write, { path: "a.txt", content: "replaced" }, controller.signal),
      "cancelled",
      /^write_file on "a\.txt" was cancelled and stopped before writing the file\.$/,
    );
    expect(fs.readFileSync(file, "utf8")).toBe("original");
  });

  it("write_file aborted after it created the file removes what it created", async () => {
    abortAfter("open", 2);
    await expectFailure(
      callTool(write, { path: "new.txt", content: "x" }, controller.signal),
      "cancelled",
      /before writing the file/,
    );
    expect(fs.readdirSync(t.root)).toEqual([]);
  });

  it("an already aborted call touches nothing", async () => {
    t.file("tree/a.txt", "a");
    controller.abort();
    const { signal } = controller;
    await expectFailure(
      callTool(write, { path: "b.txt", content: "b" }, signal),
      "cancelled",
      /before writing anything/,
    );
    await expectFailure(
      callTool(del, { path: "tree", recursive: true }, signal),
      "cancelled",
      /before removing anything/,
    );
    await expectFailure(
      callTool(read, { path: "tree/a.txt" }, signal),
      "cancelled",
      /read_file on "tree\/a\.txt"/,
    );
    await expectFailure(callTool(list, { path: "tree" }, signal), "cancelled", /list_directory on "tree"/);
    expect(fs.readdirSync(t.root)).toEqual(["tree"]);
    expect(fs.readdirSync(path.join(t.root, "tree"))).toEqual(["a.txt"]);
  });
});
