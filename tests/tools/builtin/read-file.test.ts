import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readFileTool } from "../../../src/tools/builtin/read-file.js";
import type { Tool } from "../../../src/tools/tool.js";
import { callTool, expectFailure, SECRET, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

describe("read_file", () => {
  let t: TempWorkspace;
  let tool: Tool;
  const read = (input: Record<string, unknown>) => callTool(tool, input);

  beforeEach(() => {
    t = tempWorkspace();
    tool = readFileTool({ workspace: t.root });
  });
  afterEach(() => t.cleanup());

  it("declares itself LOW, read-only and idempotent", () => {
    expect(tool).toMatchObject({
      name: "read_file",
      risk: { level: "LOW" },
      readOnly: true,
      idempotent: true,
    });
  });

  it("reads a file inside the workspace", async () => {
    t.file("src/a.txt", "hello\n");
    expect(await read({ path: "src/a.txt" })).toEqual({
      path: "src/a.txt",
      content: "hello\n",
      bytes: 6,
      offset: 0,
      size: 6,
      truncated: false,
    });
  });

  it("reads byte ranges and reports truncation with where to continue", async () => {
    t.file("a.txt", "0123456789");
    expect(await read({ path: "a.txt", offset: 2, limit: 3 })).toMatchObject({
      content: "234",
      bytes: 3,
      truncated: true,
      note: expect.stringContaining("offset 5"),
    });
    expect(await read({ path: "a.txt", offset: 8, limit: 5 })).toMatchObject({
      content: "89",
      truncated: false,
    });
  });

  it("caps a read at maxReadBytes and never splits a UTF-8 character", async () => {
    tool = readFileTool({ workspace: t.root, maxReadBytes: 4 });
    t.file("u.txt", "abcé!"); // é is 2 bytes at offsets 3-4
    expect(await read({ path: "u.txt", limit: 100 })).toMatchObject({
      content: "abc",
      bytes: 3,
      truncated: true,
    });
  });

  it("refuses a binary file", async () => {
    t.file("b.bin", "ab\0cd");
    await expectFailure(
      read({ path: "b.bin" }),
      "binary_file",
      /"b\.bin" looks binary \(NUL byte at offset 2\)/,
    );
  });

  it.each([
    ["../outside/secret.txt", /leaves the workspace through "\.\."/],
    ["a/../../outside/secret.txt", /leaves the workspace through "\.\."/],
  ])("refuses the lexical escape %j", async (p, message) => {
    await expectFailure(read({ path: p }), "outside_workspace", message);
  });

  it("refuses an absolute path even when it points inside", async () => {
    t.file("a.txt", "x");
    await expectFailure(read({ path: path.join(t.root, "a.txt") }), "outside_workspace", /is absolute/);
  });

  it("refuses a symlinked file whose target is outside", async () => {
    t.symlink("leak.txt", t.secret);
    const failure = await expectFailure(
      read({ path: "leak.txt" }),
      "outside_workspace",
      /"leak\.txt" is a symlink to ".*secret\.txt", outside/,
    );
    expect(failure.message).not.toContain("TOP-SECRET");
  });

  it("refuses a symlinked directory that leads outside, used as a path component", async () => {
    t.symlink("out", t.outside);
    await expectFailure(
      read({ path: "out/secret.txt" }),
      "outside_workspace",
      /goes through symlink "out", which resolves to ".*outside"/,
    );
  });

  it("refuses a relative symlink chain that climbs out", async () => {
    t.file("d/x", "");
    t.symlink("d/up", "../../outside");
    await expectFailure(read({ path: "d/up/secret.txt" }), "outside_workspace", /symlink "d\/up"/);
  });

  it("follows a symlink that stays inside", async () => {
    t.file("real/target.txt", "inside");
    t.symlink("link.txt", "real/target.txt");
    t.symlink("dirlink", "real");
    expect(await read({ path: "link.txt" })).toMatchObject({ content: "inside" });
    expect(await read({ path: "dirlink/target.txt" })).toMatchObject({ content: "inside" });
  });

  it("refuses a FIFO without blocking on it", async () => {
    t.mkfifo("pipe");
    // A blocking open of a FIFO with no writer would hang here until the test timeout.
    await expectFailure(
      read({ path: "pipe" }),
      "not_a_file",
      /"pipe" is a FIFO \(named pipe\), not a regular file/,
    );
  });

  it("refuses /dev/zero through a symlink", async () => {
    t.symlink("zero", "/dev/zero");
    await expectFailure(
      read({ path: "zero" }),
      "outside_workspace",
      /"zero" is a symlink to "\/dev\/zero", outside/,
    );
  });

  it("refuses a character device inside the workspace", async (ctx) => {
    const node = path.join(t.root, "zero");
    try {
      execFileSync("mknod", [node, "c", "1", "5"], { stdio: "ignore" });
    } catch {
      ctx.skip(); // mknod needs root (CAP_MKNOD)
    }
    await expectFailure(
      read({ path: "zero" }),
      "not_a_file",
      /"zero" is a character device, not a regular file/,
    );
  });

  it("refuses a directory, pointing to list_directory", async () => {
    fs.mkdirSync(path.join(t.root, "dir"));
    await expectFailure(read({ path: "dir" }), "not_a_file", /"dir" is a directory.*use list_directory/);
  });

  it("refuses anything under .rein, also through a symlink", async () => {
    t.file(".rein/audit.log", "audit");
    t.symlink("audit", ".rein/audit.log");
    await expectFailure(read({ path: ".rein/audit.log" }), "outside_workspace", /reserved for the harness/);
    await expectFailure(
      read({ path: "audit" }),
      "outside_workspace",
      /inside \.rein\/ \(reserved for the harness\)/,
    );
  });

  it("refuses a NUL byte and reports a missing file", async () => {
    await expectFailure(read({ path: "a.txt\0../../etc/passwd" }), "invalid_path", /contains a NUL byte/);
    await expectFailure(read({ path: "missing.txt" }), "not_found", /"missing\.txt" does not exist/);
    await expectFailure(read({ path: "nodir/missing.txt" }), "not_found", /directory "nodir" does not exist/);
  });

  it("reports a dangling symlink as not_found without following it", async () => {
    t.symlink("dangling", "nowhere.txt");
    await expectFailure(
      read({ path: "dangling" }),
      "not_found",
      /symlink to "nowhere\.txt", which does not exist/,
    );
  });

  it("leaves no file descriptors open", async () => {
    t.file("a.txt", "x");
    t.symlink("leak.txt", t.secret);
    const before = fs.readdirSync("/proc/self/fd").length;
    await read({ path: "a.txt" });
    await read({ path: "leak.txt" }).catch(() => {});
    await read({ path: "../x" }).catch(() => {});
    expect(fs.readdirSync("/proc/self/fd").length).toBe(before);
    expect(fs.readFileSync(t.secret, "utf8")).toBe(SECRET);
  });

  it("refuses a file named with a trailing slash, which can only name a directory", async () => {
    t.file("ok.txt", "content");
    for (const p of ["ok.txt/", "ok.txt/."]) {
      await expectFailure(
        read({ path: p }),
        "not_a_file",
        /ends with "\/", which names a directory, but it is a regular file/,
      );
    }
  });

  it("refuses a file with a second hard link (it may be a name of an outside or .rein file)", async () => {
    fs.linkSync(t.secret, path.join(t.root, "hard.txt"));
    const failure = await expectFailure(
      read({ path: "hard.txt" }),
      "outside_workspace",
      /^Path "hard\.txt" has 2 hard links; another of its names may be outside the workspace or in \.rein\/, so it is not read\.$/,
    );
    expect(failure.message).not.toContain("TOP-SECRET");
  });
});
