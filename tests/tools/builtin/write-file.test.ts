import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_MAX_WRITE_BYTES, writeFileTool } from "../../../src/tools/builtin/write-file.js";
import type { Tool } from "../../../src/tools/tool.js";
import { callTool, expectFailure, SECRET, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

describe("write_file", () => {
  let t: TempWorkspace;
  let tool: Tool;
  const write = (input: Record<string, unknown>) => callTool(tool, input);
  const outsideUntouched = () => {
    expect(fs.readFileSync(t.secret, "utf8")).toBe(SECRET);
    expect(fs.readdirSync(t.outside)).toEqual(["secret.txt"]);
  };

  beforeEach(() => {
    t = tempWorkspace();
    tool = writeFileTool({ workspace: t.root });
  });
  afterEach(() => t.cleanup());

  it("declares itself MEDIUM", () => {
    expect(tool).toMatchObject({ name: "write_file", risk: { level: "MEDIUM" }, readOnly: false });
  });

  it("creates a new file", async () => {
    expect(await write({ path: "new.txt", content: "héllo" })).toEqual({
      path: "new.txt",
      bytes: 6,
      created: true,
    });
    expect(fs.readFileSync(path.join(t.root, "new.txt"), "utf8")).toBe("héllo");
  });

  it("replaces a longer file completely", async () => {
    t.file("a.txt", "a long original content");
    expect(await write({ path: "a.txt", content: "short" })).toMatchObject({ created: false });
    expect(fs.readFileSync(path.join(t.root, "a.txt"), "utf8")).toBe("short");
  });

  it("needs createDirectories for a missing parent, and creates it when asked", async () => {
    await expectFailure(
      write({ path: "x/y/z.txt", content: "1" }),
      "not_found",
      /directory "x" does not exist/,
    );
    expect(fs.existsSync(path.join(t.root, "x"))).toBe(false);
    await write({ path: "x/y/z.txt", content: "1", createDirectories: true });
    expect(fs.readFileSync(path.join(t.root, "x/y/z.txt"), "utf8")).toBe("1");
  });

  it.each([
    ["../outside/secret.txt", /leaves the workspace through "\.\."/],
    ["a/../../outside/new.txt", /leaves the workspace through "\.\."/],
  ])("refuses the lexical escape %j", async (p, message) => {
    await expectFailure(
      write({ path: p, content: "pwned", createDirectories: true }),
      "outside_workspace",
      message,
    );
    outsideUntouched();
  });

  it("refuses an absolute path", async () => {
    await expectFailure(write({ path: t.secret, content: "pwned" }), "outside_workspace", /is absolute/);
    outsideUntouched();
  });

  it("refuses to write through a symlinked file whose target is outside", async () => {
    t.symlink("leak.txt", t.secret);
    await expectFailure(
      write({ path: "leak.txt", content: "pwned" }),
      "outside_workspace",
      /"leak\.txt" is a symlink to ".*secret\.txt", outside/,
    );
    outsideUntouched();
    expect(fs.lstatSync(path.join(t.root, "leak.txt")).isSymbolicLink()).toBe(true);
  });

  it("refuses to create a file through a dangling symlink", async () => {
    t.symlink("dangling", path.join(t.outside, "planted.txt"));
    await expectFailure(
      write({ path: "dangling", content: "pwned" }),
      "not_found",
      /symlink to ".*planted\.txt", which does not exist/,
    );
    outsideUntouched();
  });

  it("refuses to write through a parent-directory symlink that leads outside", async () => {
    t.symlink("out", t.outside);
    await expectFailure(
      write({ path: "out/new.txt", content: "pwned" }),
      "outside_workspace",
      /symlink "out", which resolves to/,
    );
    await expectFailure(
      write({ path: "out/secret.txt", content: "pwned" }),
      "outside_workspace",
      /symlink "out"/,
    );
    outsideUntouched();
  });

  it("refuses createDirectories through an existing symlinked component that leads outside", async () => {
    t.symlink("out", t.outside);
    await expectFailure(
      write({ path: "out/deep/new.txt", content: "pwned", createDirectories: true }),
      "outside_workspace",
      /symlink "out", which resolves to ".*outside"/,
    );
    outsideUntouched();
  });

  it("writes through a symlink that stays inside", async () => {
    t.file("real/target.txt", "old");
    t.symlink("link.txt", "real/target.txt");
    await write({ path: "link.txt", content: "new" });
    expect(fs.readFileSync(path.join(t.root, "real/target.txt"), "utf8")).toBe("new");
    expect(fs.lstatSync(path.join(t.root, "link.txt")).isSymbolicLink()).toBe(true);
  });

  it("refuses a FIFO without blocking, and a directory", async () => {
    t.mkfifo("pipe");
    fs.mkdirSync(path.join(t.root, "dir"));
    await expectFailure(write({ path: "pipe", content: "x" }), "not_a_file", /"pipe" is a FIFO/);
    await expectFailure(write({ path: "dir", content: "x" }), "not_a_file", /"dir" is a directory/);
  });

  it("refuses a file with a second hard link (it may be a name of an outside file)", async () => {
    const inside = path.join(t.root, "hard.txt");
    fs.linkSync(t.secret, inside);
    await expectFailure(
      write({ path: "hard.txt", content: "pwned" }),
      "outside_workspace",
      /"hard\.txt" has 2 hard links/,
    );
    outsideUntouched();
  });

  it("refuses .rein, case-insensitively, and a NUL byte", async () => {
    await expectFailure(
      write({ path: ".rein/audit.log", content: "forged" }),
      "outside_workspace",
      /reserved/,
    );
    await expectFailure(
      write({ path: ".Rein/x", content: "forged", createDirectories: true }),
      "outside_workspace",
      /reserved/,
    );
    await expectFailure(write({ path: "a\0b", content: "x" }), "invalid_path", /NUL byte/);
    expect(fs.readdirSync(t.root)).toEqual([]);
  });

  it("refuses a symlink whose target is under .rein", async () => {
    t.file(".rein/audit.log", "audit");
    t.symlink("audit", ".rein/audit.log");
    t.symlink("state", ".rein");
    await expectFailure(write({ path: "audit", content: "forged" }), "outside_workspace", /inside \.rein\//);
    await expectFailure(
      write({ path: "state/new", content: "forged" }),
      "outside_workspace",
      /inside \.rein\//,
    );
    expect(fs.readdirSync(path.join(t.root, ".rein"))).toEqual(["audit.log"]);
    expect(fs.readFileSync(path.join(t.root, ".rein/audit.log"), "utf8")).toBe("audit");
  });

  it("refuses content over maxWriteBytes, naming the limit, and writes nothing", async () => {
    tool = writeFileTool({ workspace: t.root, maxWriteBytes: 8 });
    t.file("a.txt", "original");
    // 5 characters, 10 bytes: the limit is in UTF-8 bytes.
    for (const [p, content] of [
      ["a.txt", "ééééé"],
      ["new.txt", "123456789"],
      ["d/new.txt", "123456789"],
    ]) {
      await expectFailure(
        write({ path: p, content, createDirectories: true }),
        "too_large",
        /is (10|9) bytes, over write_file's limit of 8 bytes \(maxWriteBytes\); nothing was written\.$/,
      );
    }
    expect(fs.readdirSync(t.root)).toEqual(["a.txt"]);
    expect(fs.readFileSync(path.join(t.root, "a.txt"), "utf8")).toBe("original");
    expect(await write({ path: "a.txt", content: "12345678" })).toMatchObject({ bytes: 8 });
  });

  it("defaults to a 10 MiB limit and rejects a limit that is not a positive integer", async () => {
    expect(DEFAULT_MAX_WRITE_BYTES).toBe(10 * 1024 * 1024);
    await expectFailure(
      write({ path: "big.txt", content: "x".repeat(DEFAULT_MAX_WRITE_BYTES + 1) }),
      "too_large",
      /over write_file's limit of 10485760 bytes/,
    );
    expect(fs.readdirSync(t.root)).toEqual([]);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => writeFileTool({ workspace: t.root, maxWriteBytes: bad })).toThrow(
        expect.objectContaining({ code: "REIN_CONFIG_INVALID" }),
      );
    }
  });

  it("refuses a path with a trailing slash before creating anything", async () => {
    await expectFailure(
      write({ path: "x/new.txt/", content: "x", createDirectories: true }),
      "invalid_path",
      /ends with "\/", which names a directory; give the file's name/,
    );
    expect(fs.readdirSync(t.root)).toEqual([]);
  });
});
