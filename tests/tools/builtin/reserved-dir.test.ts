import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { workspaceTools } from "../../../src/tools/builtin/index.js";
import type { Tool } from "../../../src/tools/tool.js";
import { callTool, expectFailure, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

/**
 * `.rein/` is unreachable by any route: the check applies to the directory a path resolves to (its
 * identity), not to the first segment as typed. `docs/up -> ..` makes `docs/up/.rein` a second name of
 * the reserved folder that a lexical check never sees.
 */
describe("the reserved .rein folder, reached through a symlink to the root", () => {
  let t: TempWorkspace;
  let read: Tool;
  let write: Tool;
  let list: Tool;
  let del: Tool;
  const audit = () => path.join(t.root, ".rein/audit.log");
  const reinIntact = () => expect(fs.readFileSync(audit(), "utf8")).toBe("audit");

  beforeEach(() => {
    t = tempWorkspace();
    t.file("docs/readme.md", "docs");
    t.symlink("docs/up", "..");
    t.symlink("docs/abs", t.root);
    [read, write, list, del] = workspaceTools({ workspace: t.root }) as [Tool, Tool, Tool, Tool];
  });
  afterEach(() => t.cleanup());

  describe("with .rein present", () => {
    beforeEach(() => {
      t.file(".rein/audit.log", "audit");
    });

    it.each([
      "docs/up/.rein",
      "docs/abs/.rein",
      "docs/up/.REIN",
      "docs/up/./.rein/",
      "docs/../docs/up/.rein",
    ])("delete_file %j with recursive is refused before anything is removed", async (p) => {
      await expectFailure(
        callTool(del, { path: p, recursive: true }),
        "outside_workspace",
        /reaches \.rein\/ in the workspace root, which is reserved for the harness/,
      );
      reinIntact();
    });

    it("delete_file of a file inside .rein through the root symlink is refused", async () => {
      await expectFailure(
        callTool(del, { path: "docs/up/.rein/audit.log" }),
        "outside_workspace",
        /reserved for the harness/,
      );
      reinIntact();
    });

    it("read_file and list_directory refuse .rein through the root symlink", async () => {
      await expectFailure(
        callTool(read, { path: "docs/up/.rein/audit.log" }),
        "outside_workspace",
        /reaches \.rein\/ in the workspace root/,
      );
      await expectFailure(
        callTool(list, { path: "docs/up/.rein" }),
        "outside_workspace",
        /reaches \.rein\/ in the workspace root/,
      );
      await expectFailure(
        callTool(read, { path: "docs/up/.rein" }),
        "outside_workspace",
        /reaches \.rein\/ in the workspace root/,
      );
    });

    it("write_file refuses an existing .rein file through the root symlink and leaves it as it was", async () => {
      await expectFailure(
        callTool(write, { path: "docs/up/.rein/audit.log", content: "forged" }),
        "outside_workspace",
        /reaches \.rein\/ in the workspace root/,
      );
      reinIntact();
    });

    it("list_directory of the root through the symlink hides .rein, also recursively", async () => {
      const names = (r: unknown) => (r as { entries: { name: string }[] }).entries.map((e) => e.name);
      expect(names(await callTool(list, { path: "docs/up" }))).toEqual(["docs"]);
      // A recursive listing reports the root symlinks and never enters them.
      expect(names(await callTool(list, { path: ".", recursive: true }))).toEqual([
        "docs",
        "docs/abs",
        "docs/readme.md",
        "docs/up",
      ]);
      expect(names(await callTool(list, { path: "docs/up", recursive: true }))).toEqual([
        "docs",
        "docs/abs",
        "docs/readme.md",
        "docs/up",
      ]);
    });

    it("a recursive delete of the symlink, or of the tree holding it, never reaches .rein", async () => {
      t.file("keep.txt", "keep");
      expect(await callTool(del, { path: "docs/up", recursive: true })).toEqual({
        path: "docs/up",
        deleted: "symlink",
      });
      expect(await callTool(del, { path: "docs", recursive: true })).toEqual({
        path: "docs",
        deleted: "directory",
      });
      reinIntact();
      expect(fs.readdirSync(t.root).sort()).toEqual([".rein", "keep.txt"]);
    });

    it("refuses .rein bind-mounted elsewhere in the workspace, by the directory's identity", async (ctx) => {
      const alias = path.join(t.root, "docs/alias");
      fs.mkdirSync(alias);
      try {
        execFileSync("mount", ["--bind", path.join(t.root, ".rein"), alias], { stdio: "ignore" });
      } catch {
        ctx.skip(); // bind mounts need root (CAP_SYS_ADMIN); CI runs as root
      }
      try {
        // The alias's real path is docs/alias, inside and not under .rein: only its identity gives it away.
        await expectFailure(
          callTool(read, { path: "docs/alias/audit.log" }),
          "outside_workspace",
          /reaches \.rein\/ in the workspace root/,
        );
        await expectFailure(
          callTool(list, { path: "docs/alias" }),
          "outside_workspace",
          /reaches \.rein\/ in the workspace root/,
        );
        await expectFailure(
          callTool(del, { path: "docs", recursive: true }),
          "outside_workspace",
          /reaches \.rein\/ in the workspace root/,
        );
        reinIntact();
      } finally {
        execFileSync("umount", [alias]);
      }
    });
  });

  describe("with no .rein yet", () => {
    it("a refused write_file creates nothing: no .rein file, no .rein directory", async () => {
      await expectFailure(
        callTool(write, { path: "docs/up/.rein", content: "" }),
        "outside_workspace",
        /reaches \.rein\/ in the workspace root/,
      );
      await expectFailure(
        callTool(write, { path: "docs/up/.rein/state.db", content: "x", createDirectories: true }),
        "outside_workspace",
        /reaches \.rein\/ in the workspace root/,
      );
      await expectFailure(
        callTool(write, { path: "docs/abs/.Rein", content: "x" }),
        "outside_workspace",
        /reaches \.rein\/ in the workspace root/,
      );
      expect(fs.readdirSync(t.root)).toEqual(["docs"]);
    });
  });
});
