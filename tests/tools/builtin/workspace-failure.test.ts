import { execFileSync } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { workspaceTools } from "../../../src/tools/builtin/index.js";
import { MAX_ECHOED_PATH_CHARS, quotePath } from "../../../src/tools/builtin/workspace-failure.js";
import type { Tool } from "../../../src/tools/tool.js";
import { callTool, expectFailure, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

/** Operating-system errors come back as typed failures that never show the internal `/proc/self/fd` paths. */
describe("workspace tool failures", () => {
  let t: TempWorkspace;
  let read: Tool;
  let write: Tool;
  let list: Tool;
  let del: Tool;
  const noInternalPath = async (promise: Promise<unknown>, type: string, message: RegExp) => {
    const failure = await expectFailure(promise, type, message);
    expect(failure.message).not.toContain("/proc/self/fd");
    return failure;
  };

  beforeEach(() => {
    t = tempWorkspace();
    [read, write, list, del] = workspaceTools({ workspace: t.root }) as [Tool, Tool, Tool, Tool];
  });
  afterEach(() => {
    vi.restoreAllMocks();
    t.cleanup();
  });

  it("a directory whose real path is longer than PATH_MAX is invalid_path (ENAMETOOLONG), not a raw error", async () => {
    // Built through directory descriptors: no path this long can be passed to mkdir whole.
    const name = "d".repeat(250);
    const depth = 17; // 17 x 251 characters > 4096 (PATH_MAX)
    let fd = fs.openSync(t.root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    let middle = -1;
    for (let i = 0; i < depth; i++) {
      fs.mkdirSync(`/proc/self/fd/${fd}/${name}`);
      const next = fs.openSync(
        `/proc/self/fd/${fd}/${name}`,
        fs.constants.O_RDONLY | fs.constants.O_DIRECTORY,
      );
      if (i === 8) middle = fd;
      else fs.closeSync(fd);
      fd = next;
    }
    fs.writeFileSync(`/proc/self/fd/${fd}/f.txt`, "deep");
    fs.closeSync(fd);
    const deep = `${Array(depth).fill(name).join("/")}/f.txt`;
    try {
      for (const call of [
        () => callTool(read, { path: deep }),
        () => callTool(write, { path: deep, content: "x" }),
        () => callTool(list, { path: path.dirname(deep) }),
        () => callTool(del, { path: deep }),
      ]) {
        const failure = await noInternalPath(
          call(),
          "invalid_path",
          /is too long for the operating system \(ENAMETOOLONG\)\.$/,
        );
        expect(failure.message.length).toBeLessThan(400);
      }
    } finally {
      // Split the chain in two so the fixture's cleanup can remove it by path.
      fs.renameSync(`/proc/self/fd/${middle}/${name}`, path.join(t.root, "tail"));
      fs.closeSync(middle);
    }
  });

  it("a name over 255 bytes is invalid_path before any system call", async () => {
    const long = "n".repeat(256);
    for (const call of [
      () => callTool(read, { path: long }),
      () => callTool(write, { path: `new/${long}`, content: "x", createDirectories: true }),
      () => callTool(del, { path: long }),
    ]) {
      await noInternalPath(call(), "invalid_path", /has a name of 256 bytes; names are at most 255 bytes/);
    }
    expect(fs.readdirSync(t.root)).toEqual([]);
  });

  it("a symlink loop is invalid_path naming the loop (ELOOP)", async () => {
    t.symlink("loop", "loop");
    t.symlink("ping", "pong");
    t.symlink("pong", "ping");
    for (const call of [
      () => callTool(read, { path: "loop" }),
      () => callTool(read, { path: "ping/x" }),
      () => callTool(write, { path: "pong", content: "x" }),
      () => callTool(list, { path: "loop" }),
    ]) {
      await noInternalPath(call(), "invalid_path", /is a symlink loop \(too many levels of symbolic links\)/);
    }
  });

  it("an immutable file (EPERM from the kernel) is access_denied", async (ctx) => {
    const file = t.file("locked.txt", "locked");
    try {
      execFileSync("chattr", ["+i", file], { stdio: "ignore" });
    } catch {
      ctx.skip(); // chattr +i needs root (CAP_LINUX_IMMUTABLE) on ext2/3/4, xfs or btrfs; CI runs as root
    }
    try {
      await noInternalPath(
        callTool(del, { path: "locked.txt" }),
        "access_denied",
        /^Path "locked\.txt": the operating system denied access \(EPERM\)\.$/,
      );
      await noInternalPath(
        callTool(write, { path: "locked.txt", content: "x" }),
        "access_denied",
        /denied access \(EPERM\)/,
      );
      expect(fs.readFileSync(file, "utf8")).toBe("locked");
    } finally {
      execFileSync("chattr", ["-i", file]);
    }
  });

  it.each([
    ["EACCES", "access_denied", /^Path "d": the operating system denied access \(EACCES\)\.$/],
    [
      "EMFILE",
      "io_error",
      /^Path "d" could not be opened: this process has too many open files \(EMFILE\)\.$/,
    ],
    ["ESTALE", "io_error", /^Path "d": the file operation failed \(ESTALE\)\.$/],
  ])(
    "%s from the system is typed %s, without the /proc/self/fd path Node puts in its message",
    async (code, type, message) => {
      t.file("d/x.txt", "x");
      // As Node reports it for the descriptor path the tools use internally (as root, EACCES cannot be provoked).
      vi.spyOn(fsp, "readdir").mockImplementation(async (p) => {
        throw Object.assign(new Error(`${code}: failed, scandir '${String(p)}'`), { code, path: String(p) });
      });
      await noInternalPath(callTool(list, { path: "d" }), type, message);
    },
  );

  it("caps an echoed path: a 100 KB path never comes back whole", async () => {
    const huge = "a/".repeat(50_000); // 100,000 characters, every name short
    const absolute = `/${"b".repeat(100_000)}`;
    for (const call of [
      () => callTool(read, { path: huge }),
      () => callTool(write, { path: `${huge}x`, content: "x" }),
      () => callTool(list, { path: huge }),
      () => callTool(del, { path: `${huge}x` }),
      () => callTool(read, { path: absolute }),
      () => callTool(read, { path: `${huge}\0` }),
    ]) {
      const failure = await call().then(
        () => expect.fail("expected a refusal"),
        (e: { message: string }) => e,
      );
      expect(failure.message.length).toBeLessThan(MAX_ECHOED_PATH_CHARS + 200);
      expect(failure.message).toMatch(/… \(10000[01] characters\)/);
    }
  });

  it("quotePath keeps short paths whole and notes the full length of a long one", () => {
    expect(quotePath("src/a.ts")).toBe('"src/a.ts"');
    const long = "x".repeat(5000);
    expect(quotePath(long)).toBe(`${JSON.stringify("x".repeat(MAX_ECHOED_PATH_CHARS))}… (5000 characters)`);
  });
});
