import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listDirectoryTool } from "../../../src/tools/builtin/list-directory.js";
import type { Tool } from "../../../src/tools/tool.js";
import { callTool, expectFailure, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

describe("list_directory", () => {
  let t: TempWorkspace;
  let tool: Tool;
  const list = (input: Record<string, unknown>) => callTool(tool, input);

  beforeEach(() => {
    t = tempWorkspace();
    tool = listDirectoryTool({ workspace: t.root });
  });
  afterEach(() => t.cleanup());

  it("declares itself LOW, read-only and idempotent", () => {
    expect(tool).toMatchObject({
      name: "list_directory",
      risk: { level: "LOW" },
      readOnly: true,
      idempotent: true,
    });
  });

  it("lists the root by default, sorted, with types and file sizes, hiding .rein", async () => {
    t.file("b.txt", "12345");
    t.file("a/inner.txt", "");
    t.file(".rein/audit.log", "audit");
    t.symlink("c-link", t.outside);
    t.mkfifo("d-pipe");
    expect(await list({})).toEqual({
      path: ".",
      entries: [
        { name: "a", type: "directory" },
        { name: "b.txt", type: "file", size: 5 },
        { name: "c-link", type: "symlink" },
        { name: "d-pipe", type: "other" },
      ],
      total: 4,
      truncated: false,
    });
  });

  it("lists a subdirectory and a symlinked directory that stays inside", async () => {
    t.file("real/x.txt", "x");
    t.symlink("link", "real");
    const expected = [{ name: "x.txt", type: "file", size: 1 }];
    expect(await list({ path: "real" })).toMatchObject({ entries: expected });
    expect(await list({ path: "link" })).toMatchObject({ entries: expected });
  });

  it("caps the listing and says so", async () => {
    tool = listDirectoryTool({ workspace: t.root, maxEntries: 2 });
    for (const n of ["c", "a", "b"]) t.file(n, "");
    expect(await list({})).toMatchObject({
      entries: [{ name: "a" }, { name: "b" }],
      total: 3,
      truncated: true,
    });
  });

  it("never follows a symlinked directory outside", async () => {
    t.symlink("out", t.outside);
    await expectFailure(
      list({ path: "out" }),
      "outside_workspace",
      /goes through symlink "out", which resolves to ".*outside"/,
    );
    t.file("d/.keep", "");
    t.symlink("d/up", "../..");
    await expectFailure(list({ path: "d/up" }), "outside_workspace", /symlink "d\/up"/);
  });

  it("refuses lexical escapes, absolute paths, .rein and a file", async () => {
    t.file("f.txt", "");
    await expectFailure(list({ path: ".." }), "outside_workspace", /leaves the workspace/);
    await expectFailure(list({ path: "a/../../outside" }), "outside_workspace", /leaves the workspace/);
    await expectFailure(list({ path: "/" }), "outside_workspace", /is absolute/);
    await expectFailure(list({ path: ".rein" }), "outside_workspace", /reserved/);
    await expectFailure(list({ path: "f.txt" }), "not_a_file", /"f\.txt" is a regular file, not a directory/);
    await expectFailure(list({ path: "nope" }), "not_found", /"nope" does not exist/);
  });

  it("refuses a symlink to .rein", async () => {
    fs.mkdirSync(path.join(t.root, ".rein"));
    t.symlink("state", ".rein");
    await expectFailure(list({ path: "state" }), "outside_workspace", /inside \.rein\//);
  });

  it("lists a tree recursively, depth-first by name, reporting symlinks without entering them", async () => {
    t.file("b.txt", "bb");
    t.file("a/z.txt", "");
    t.file("a/c/d.txt", "d");
    t.symlink("a/out", t.outside);
    t.symlink("a/loop", "..");
    t.file(".rein/audit.log", "audit");
    expect(await list({ recursive: true })).toEqual({
      path: ".",
      entries: [
        { name: "a", type: "directory" },
        { name: "a/c", type: "directory" },
        { name: "a/c/d.txt", type: "file", size: 1 },
        { name: "a/loop", type: "symlink" },
        { name: "a/out", type: "symlink" },
        { name: "a/z.txt", type: "file", size: 0 },
        { name: "b.txt", type: "file", size: 2 },
      ],
      total: 7,
      truncated: false,
    });
    expect(await list({ path: "a/c", recursive: true })).toMatchObject({ entries: [{ name: "d.txt" }] });
  });

  it("stops a recursive listing at maxEntries and says it was cut short", async () => {
    tool = listDirectoryTool({ workspace: t.root, maxEntries: 3 });
    for (const d of ["a", "b", "c"]) t.file(`${d}/x.txt`, "");
    expect(await list({ recursive: true })).toEqual({
      path: ".",
      entries: [
        { name: "a", type: "directory" },
        { name: "a/x.txt", type: "file", size: 0 },
        { name: "b", type: "directory" },
      ],
      total: 3,
      truncated: true,
    });
  });

  it("a recursive listing reports a bind mount without entering it", async (ctx) => {
    t.file("d/x.txt", "x");
    const mnt = path.join(t.root, "d/mnt");
    fs.mkdirSync(mnt);
    try {
      execFileSync("mount", ["--bind", t.outside, mnt], { stdio: "ignore" });
    } catch {
      ctx.skip(); // mounting needs root (CAP_SYS_ADMIN); CI runs as root
    }
    try {
      expect(await list({ path: "d", recursive: true })).toMatchObject({
        entries: [
          { name: "mnt", type: "directory" },
          { name: "x.txt", type: "file" },
        ],
        total: 2,
      });
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});
