import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deleteFileTool } from "../../../src/tools/builtin/delete-file.js";
import type { Tool } from "../../../src/tools/tool.js";
import { callTool, expectFailure, SECRET, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

describe("delete_file", () => {
  let t: TempWorkspace;
  let tool: Tool;
  const del = (input: Record<string, unknown>) => callTool(tool, input);
  const exists = (rel: string) => fs.existsSync(path.join(t.root, rel));
  const outsideUntouched = () => {
    expect(fs.readFileSync(t.secret, "utf8")).toBe(SECRET);
    expect(fs.readdirSync(t.outside)).toEqual(["secret.txt"]);
  };

  beforeEach(() => {
    t = tempWorkspace();
    tool = deleteFileTool({ workspace: t.root });
  });
  afterEach(() => t.cleanup());

  it("declares itself HIGH", () => {
    expect(tool).toMatchObject({ name: "delete_file", risk: { level: "HIGH" }, readOnly: false });
  });

  it("deletes a file", async () => {
    t.file("a/b.txt", "x");
    expect(await del({ path: "a/b.txt" })).toEqual({ path: "a/b.txt", deleted: "file" });
    expect(exists("a/b.txt")).toBe(false);
    expect(exists("a")).toBe(true);
  });

  it("removes a symlink to an outside file, never its target", async () => {
    t.symlink("leak.txt", t.secret);
    expect(await del({ path: "leak.txt" })).toEqual({ path: "leak.txt", deleted: "symlink" });
    expect(fs.existsSync(path.join(t.root, "leak.txt"))).toBe(false);
    outsideUntouched();
  });

  it("removes a symlink to an outside directory, even with recursive, never its contents", async () => {
    t.symlink("out", t.outside);
    expect(await del({ path: "out", recursive: true })).toEqual({ path: "out", deleted: "symlink" });
    outsideUntouched();
  });

  it("refuses to delete through a parent-directory symlink that leads outside", async () => {
    t.symlink("out", t.outside);
    await expectFailure(
      del({ path: "out/secret.txt" }),
      "outside_workspace",
      /goes through symlink "out", which resolves to/,
    );
    outsideUntouched();
  });

  it("deletes a directory tree only with recursive, without following symlinks inside it", async () => {
    t.file("tree/a.txt", "a");
    t.symlink("tree/escape", t.outside);
    t.symlink("tree/escape-file", t.secret);
    await expectFailure(del({ path: "tree" }), "not_a_file", /"tree" is a directory; pass recursive: true/);
    expect(exists("tree/a.txt")).toBe(true);
    expect(await del({ path: "tree", recursive: true })).toEqual({ path: "tree", deleted: "directory" });
    expect(exists("tree")).toBe(false);
    outsideUntouched();
  });

  it("never deletes the workspace root", async () => {
    t.file("a.txt", "x");
    for (const p of [".", "./", "a/.."]) {
      await expectFailure(
        del({ path: p, recursive: true }),
        "invalid_path",
        /is the workspace root, which can never be deleted/,
      );
    }
    expect(exists("a.txt")).toBe(true);
  });

  it("never deletes .rein or anything in it", async () => {
    t.file(".rein/audit.log", "audit");
    t.symlink("state", ".rein");
    await expectFailure(
      del({ path: ".rein", recursive: true }),
      "outside_workspace",
      /reserved for the harness/,
    );
    await expectFailure(del({ path: ".rein/audit.log" }), "outside_workspace", /reserved for the harness/);
    await expectFailure(del({ path: "state/audit.log" }), "outside_workspace", /inside \.rein\//);
    expect(fs.readFileSync(path.join(t.root, ".rein/audit.log"), "utf8")).toBe("audit");
  });

  it("refuses escapes, absolute paths and NUL bytes, and reports a missing file", async () => {
    await expectFailure(
      del({ path: "../outside/secret.txt" }),
      "outside_workspace",
      /leaves the workspace through "\.\."/,
    );
    await expectFailure(
      del({ path: "a/../../outside/secret.txt" }),
      "outside_workspace",
      /leaves the workspace/,
    );
    await expectFailure(del({ path: t.secret }), "outside_workspace", /is absolute/);
    await expectFailure(del({ path: "x\0" }), "invalid_path", /NUL byte/);
    await expectFailure(del({ path: "missing" }), "not_found", /"missing" does not exist/);
    outsideUntouched();
  });

  it("deletes a FIFO without opening it", async () => {
    t.mkfifo("pipe");
    expect(await del({ path: "pipe" })).toEqual({ path: "pipe", deleted: "other" });
    expect(exists("pipe")).toBe(false);
  });

  it("refuses a trailing slash on a file or on a symlink to a directory, never following the link", async () => {
    t.file("f.txt", "x");
    t.file("real/keep.txt", "keep");
    t.symlink("link", "real");
    await expectFailure(
      del({ path: "f.txt/" }),
      "not_a_file",
      /ends with "\/", which names a directory, but it is a regular file/,
    );
    await expectFailure(
      del({ path: "link/", recursive: true }),
      "not_a_file",
      /ends with "\/", which names a directory, but it is a symbolic link; drop the trailing slash/,
    );
    expect(exists("f.txt")).toBe(true);
    expect(exists("real/keep.txt")).toBe(true);
    expect(await del({ path: "real/", recursive: true })).toEqual({ path: "real/", deleted: "directory" });
  });

  it("deletes a deep tree with symlinks inside by descriptor, leaving their targets", async () => {
    t.file("tree/a/b/c/d.txt", "d");
    t.file("tree/a/e.txt", "e");
    t.symlink("tree/a/b/out", t.outside);
    t.symlink("tree/a/b/secret", t.secret);
    t.mkfifo("tree/a/pipe");
    expect(await del({ path: "tree", recursive: true })).toEqual({ path: "tree", deleted: "directory" });
    expect(exists("tree")).toBe(false);
    outsideUntouched();
  });

  it("does not cross onto another file system: a tmpfs mounted inside the tree stops the delete", async (ctx) => {
    t.file("tree/a.txt", "a");
    const mnt = path.join(t.root, "tree/mnt");
    fs.mkdirSync(mnt);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], { stdio: "ignore" });
    } catch {
      ctx.skip(); // mounting needs root (CAP_SYS_ADMIN); CI runs as root
    }
    try {
      fs.writeFileSync(path.join(mnt, "other-fs.txt"), "kept");
      await expectFailure(
        del({ path: "tree", recursive: true }),
        "outside_workspace",
        /^Path "tree" contains a mount point \("tree\/mnt"\); a recursive delete does not cross mounts\.$/,
      );
      expect(fs.readFileSync(path.join(mnt, "other-fs.txt"), "utf8")).toBe("kept");
    } finally {
      execFileSync("umount", [mnt]);
    }
  });

  it("does not cross a bind mount of an outside tree, though it is on the same device", async (ctx) => {
    t.file("tree/a.txt", "a");
    const mnt = path.join(t.root, "tree/mnt");
    fs.mkdirSync(mnt);
    try {
      execFileSync("mount", ["--bind", t.outside, mnt], { stdio: "ignore" });
    } catch {
      ctx.skip(); // mounting needs root (CAP_SYS_ADMIN); CI runs as root
    }
    try {
      expect(fs.statSync(mnt).dev).toBe(fs.statSync(path.join(t.root, "tree")).dev);
      await expectFailure(
        del({ path: "tree", recursive: true }),
        "outside_workspace",
        /^Path "tree" contains a mount point \("tree\/mnt"\); a recursive delete does not cross mounts\.$/,
      );
      outsideUntouched();
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});
