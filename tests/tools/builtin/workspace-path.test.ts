import { execFileSync } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ReinError } from "../../../src/protocol/errors.js";
import { Workspace } from "../../../src/tools/builtin/workspace.js";
import { parseWorkspacePath } from "../../../src/tools/builtin/workspace-path.js";
import { expectFailure, SECRET, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

describe("parseWorkspacePath", () => {
  it("normalises harmless paths into segments", () => {
    expect(parseWorkspacePath("src/../README.md")).toEqual(["README.md"]);
    expect(parseWorkspacePath("./a//b/")).toEqual(["a", "b"]);
    expect(parseWorkspacePath(".")).toEqual([]);
  });

  it.each([
    ["../secret.txt", /leaves the workspace through "\.\."/],
    ["a/../../x", /leaves the workspace through "\.\."/],
    ["a/b/../../../x", /leaves the workspace through "\.\."/],
    ["/etc/passwd", /is absolute/],
    [".rein/audit.log", /reserved for the harness/],
    ["x/../.rein", /reserved for the harness/],
    [".REIN/state.db", /reserved for the harness/],
  ])("refuses %j as outside_workspace", async (input, message) => {
    await expectFailure(
      Promise.resolve().then(() => parseWorkspacePath(input)),
      "outside_workspace",
      message,
    );
  });

  it("refuses a NUL byte and an empty path as invalid_path", async () => {
    await expectFailure(
      Promise.resolve().then(() => parseWorkspacePath("a\0b")),
      "invalid_path",
      /"a\\u0000b" contains a NUL byte/,
    );
    await expectFailure(
      Promise.resolve().then(() => parseWorkspacePath("")),
      "invalid_path",
      /empty/,
    );
  });
});

describe("Workspace", () => {
  let t: TempWorkspace;
  beforeEach(() => {
    t = tempWorkspace();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    t.cleanup();
  });

  it("refuses a root that does not exist or is a file, naming it", () => {
    const missing = path.join(t.root, "nope");
    expect(() => new Workspace(missing)).toThrow(expect.objectContaining({ code: "REIN_WORKSPACE_INVALID" }));
    expect(() => new Workspace(missing)).toThrow(missing);
    const file = t.file("f.txt", "x");
    expect(() => new Workspace(file)).toThrow(ReinError);
    expect(() => new Workspace(file)).toThrow(/is not a directory/);
  });

  it("stores the root's real path", () => {
    t.symlink("../root-link", t.root);
    expect(new Workspace(path.join(t.root, "..", "root-link")).root).toBe(t.root);
  });

  it("catches a directory swapped for a symlink after its path was checked (read-back of the fd)", async () => {
    t.file("real/dir/file.txt", "inside");
    fs.mkdirSync(path.join(t.outside, "dir"));
    fs.writeFileSync(path.join(t.outside, "dir", "file.txt"), SECRET);
    t.symlink("link", "real/dir");
    const ws = new Workspace(t.root);
    const realpath = fsp.realpath;
    // Between the realpath check and the open, "real" becomes a symlink to the outside directory.
    vi.spyOn(fsp, "realpath").mockImplementation(async (p, o) => {
      const resolved = await realpath(p, o);
      fs.renameSync(path.join(t.root, "real"), path.join(t.root, "moved"));
      fs.symlinkSync(t.outside, path.join(t.root, "real"));
      return resolved;
    });
    await expectFailure(
      ws.openDirectory("link"),
      "outside_workspace",
      /"link" was opened as ".*\/outside\/dir", outside the workspace/,
    );
  });

  it("never truncates an outside file when the swap happens between the check and the open", async () => {
    t.file("real/target.txt", "inside");
    fs.writeFileSync(path.join(t.outside, "target.txt"), SECRET);
    t.symlink("flink", "real/target.txt");
    const ws = new Workspace(t.root);
    const realpath = fsp.realpath;
    vi.spyOn(fsp, "realpath").mockImplementation(async (p, o) => {
      const resolved = await realpath(p, o);
      fs.renameSync(path.join(t.root, "real"), path.join(t.root, "moved"));
      fs.symlinkSync(t.outside, path.join(t.root, "real"));
      return resolved;
    });
    await expectFailure(
      ws.writeFile("flink", "overwritten"),
      "outside_workspace",
      /was opened as ".*\/outside\/target\.txt"/,
    );
    expect(fs.readFileSync(path.join(t.outside, "target.txt"), "utf8")).toBe(SECRET);
  });

  /** Runs `swap` right after the first lstat of a path ending in `suffix`: the race, made deterministic. */
  const swapAfterLstat = (suffix: string, swap: () => void) => {
    const lstat = fsp.lstat;
    let done = false;
    vi.spyOn(fsp, "lstat").mockImplementation(async (p, o) => {
      const st = await lstat(p, o as undefined);
      if (!done && String(p).endsWith(suffix)) {
        done = true;
        swap();
      }
      return st;
    });
  };

  it("does not block when a file is swapped for a FIFO after its lstat (O_NONBLOCK, then fstat)", async () => {
    const file = t.file("data.txt", "inside");
    swapAfterLstat("/data.txt", () => {
      fs.rmSync(file);
      execFileSync("mkfifo", [file]);
    });
    await expectFailure(new Workspace(t.root).openForRead("data.txt"), "not_a_file", /"data\.txt" is a FIFO/);
  });

  it.each(["read", "write"] as const)(
    "refuses to %s a final file swapped for an outside symlink after its lstat (O_NOFOLLOW)",
    async (op) => {
      const file = t.file("data.txt", "inside");
      swapAfterLstat("/data.txt", () => {
        fs.rmSync(file);
        fs.symlinkSync(t.secret, file);
      });
      const ws = new Workspace(t.root);
      const attempt = op === "read" ? ws.openForRead("data.txt") : ws.writeFile("data.txt", "pwned");
      await expectFailure(attempt, "outside_workspace", /"data\.txt" changed while it was being opened/);
      expect(fs.readFileSync(t.secret, "utf8")).toBe(SECRET);
    },
  );

  it("refuses a path component that became a symlink between lstat and open (O_NOFOLLOW)", async () => {
    t.file("sub/file.txt", "inside");
    const ws = new Workspace(t.root);
    const lstat = fsp.lstat;
    vi.spyOn(fsp, "lstat").mockImplementation(async (p, o) => {
      const st = await lstat(p, o as undefined);
      if (String(p).endsWith("/sub")) {
        fs.renameSync(path.join(t.root, "sub"), path.join(t.root, "moved"));
        fs.symlinkSync(t.outside, path.join(t.root, "sub"));
      }
      return st;
    });
    await expectFailure(
      ws.openForRead("sub/secret.txt"),
      "outside_workspace",
      /changed while it was being opened/,
    );
  });
});
