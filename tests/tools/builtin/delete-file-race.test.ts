import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ToolFailure } from "../../../src/protocol/tool-result.js";
import { deleteFileTool } from "../../../src/tools/builtin/delete-file.js";
import type { Tool } from "../../../src/tools/tool.js";
import { callTool, expectFailure, type TempWorkspace, tempWorkspace } from "./workspace-fixture.js";

/** Where a path (possibly `/proc/self/fd/<fd>/…`) leads now, or `undefined` if nowhere. */
const resolved = (p: unknown): string | undefined => {
  try {
    return fs.realpathSync(String(p));
  } catch {
    return undefined;
  }
};

describe("delete_file recursive under a racing swap of a directory for a symlink", () => {
  let t: TempWorkspace;
  let tool: Tool;
  let victim: string;
  const victimFiles = ["v0.txt", "v1.txt", "v2.txt"];
  const victimIntact = () => {
    for (const name of victimFiles) expect(fs.readFileSync(path.join(victim, name), "utf8")).toBe(name);
    expect(fs.readFileSync(t.secret, "utf8")).toContain("TOP-SECRET");
  };

  beforeEach(() => {
    t = tempWorkspace();
    tool = deleteFileTool({ workspace: t.root });
    victim = path.join(t.outside, "victim");
    fs.mkdirSync(victim);
    for (const name of victimFiles) fs.writeFileSync(path.join(victim, name), name);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    t.cleanup();
  });

  /** Moves the real `tree/sub` aside (still inside) and plants a symlink to the outside victim in its place. */
  const swapSub = () => {
    fs.renameSync(path.join(t.root, "tree/sub"), path.join(t.root, "moved"));
    fs.symlinkSync(victim, path.join(t.root, "tree/sub"));
  };
  const makeTree = () => {
    t.file("tree/a.txt", "a");
    for (const name of ["s0.txt", "s1.txt"]) t.file(`tree/sub/${name}`, name);
  };

  it("a directory swapped right after its lstat is unlinked as the symlink it became, never followed", async () => {
    makeTree();
    let swapped = false;
    const onLstat = (p: unknown) => {
      if (!swapped && resolved(p) === path.join(t.root, "tree/sub")) {
        swapped = true;
        swapSub();
      }
    };
    // Both lstat APIs, so the hook fires whichever a delete implementation uses.
    const lstat = fsp.lstat;
    vi.spyOn(fsp, "lstat").mockImplementation(async (p, o) => {
      const st = await lstat(p, o as undefined);
      onLstat(p);
      return st;
    });
    const lstatCb = fs.lstat;
    vi.spyOn(fs, "lstat").mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
      const cb = rest.pop() as (e: unknown, st?: fs.Stats) => void;
      return lstatCb(p, ...(rest as []), (e: unknown, st?: fs.Stats) => {
        if (!e) onLstat(p);
        cb(e, st);
      });
    }) as typeof fs.lstat);

    const result = await callTool(tool, { path: "tree", recursive: true }).catch((e: unknown) => e);
    expect(swapped).toBe(true);
    expect(result).toEqual({ path: "tree", deleted: "directory" });
    victimIntact();
    // The real directory was moved out of the tree before it was opened, so it was not part of the delete.
    expect(fs.readdirSync(path.join(t.root, "moved")).sort()).toEqual(["s0.txt", "s1.txt"]);
    expect(fs.existsSync(path.join(t.root, "tree"))).toBe(false);
  });

  it("a directory swapped right before its entries are listed: entries go through the held descriptor", async () => {
    makeTree();
    let swapped = false;
    const onReaddir = (p: unknown) => {
      if (!swapped && resolved(p) === path.join(t.root, "tree/sub")) {
        swapped = true;
        swapSub();
      }
    };
    const readdir = fsp.readdir;
    vi.spyOn(fsp, "readdir").mockImplementation((async (p: fs.PathLike, o?: unknown) => {
      onReaddir(p);
      return readdir(p, o as undefined);
    }) as typeof fsp.readdir);
    const readdirCb = fs.readdir;
    vi.spyOn(fs, "readdir").mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
      onReaddir(p);
      return (readdirCb as (...a: unknown[]) => void)(p, ...rest);
    }) as typeof fs.readdir);

    // The directory held open is the real one (now at "moved", inside): its entries are removed there,
    // then removing the name "sub" finds the planted symlink and the call stops, typed.
    await expectFailure(
      callTool(tool, { path: "tree", recursive: true }),
      "outside_workspace",
      /^Path "tree" changed while it was being deleted/,
    );
    expect(swapped).toBe(true);
    victimIntact();
    expect(fs.readdirSync(path.join(t.root, "moved"))).toEqual([]);
    expect(fs.readlinkSync(path.join(t.root, "tree/sub"))).toBe(victim);
  });

  it("a second process swapping dir <-> symlink in a tight loop never gets 25 deletes to touch the outside", async () => {
    // The attacker: for every tree-* in the workspace, move tree-*/sub and tree-*/sub/deep aside and put a
    // symlink to the victim in their place, then swap back, as fast as it can, until it is stopped.
    const attacker = `
      const fs = require("node:fs");
      const [root, victim] = process.argv.slice(1);
      let swaps = 0;
      process.on("SIGTERM", () => { process.stdout.write("swaps " + swaps + "\\n", () => process.exit(0)); });
      setTimeout(() => process.exit(2), 25000).unref();
      process.stdout.write("ready\\n");
      const tryIt = (f) => { try { f(); return true; } catch { return false; } };
      const loop = () => {
        for (let i = 0; i < 200; i++) {
          let names = [];
          tryIt(() => { names = fs.readdirSync(root).filter((n) => n.startsWith("tree-")); });
          for (const n of names) {
            for (const rel of ["sub", "sub/deep"]) {
              const p = root + "/" + n + "/" + rel;
              const stash = root + "/stash-" + n + "-" + rel.replace("/", "-");
              if (tryIt(() => fs.renameSync(p, stash))) {
                if (tryIt(() => fs.symlinkSync(victim, p))) swaps++;
                tryIt(() => fs.unlinkSync(p));
                tryIt(() => fs.renameSync(stash, p));
              }
            }
          }
        }
        setImmediate(loop);
      };
      loop();
    `;
    const child = spawn(process.execPath, ["-e", attacker, t.root, victim], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
    });
    const outcomes: string[] = [];
    try {
      while (!out.includes("ready")) await once(child.stdout, "data");
      for (let i = 0; i < 25; i++) {
        // Built under another name and renamed into place, so the set-up itself never races the attacker.
        const build = path.join(t.root, `build-${i}`);
        fs.mkdirSync(path.join(build, "sub/deep"), { recursive: true });
        fs.writeFileSync(path.join(build, "a.txt"), "a");
        for (let f = 0; f < 20; f++) {
          fs.writeFileSync(path.join(build, `sub/f${f}.txt`), "f");
          fs.writeFileSync(path.join(build, `sub/deep/g${f}.txt`), "g");
        }
        fs.renameSync(build, path.join(t.root, `tree-${i}`));
        try {
          await callTool(tool, { path: `tree-${i}`, recursive: true });
          outcomes.push("ok");
        } catch (err) {
          // Losing the race is allowed; an untyped error or an internal path in the message is not.
          expect(err).toBeInstanceOf(ToolFailure);
          const failure = err as ToolFailure;
          expect(failure.message).not.toContain("/proc/self/fd");
          expect(["outside_workspace", "not_found", "io_error"], failure.message).toContain(failure.type);
          outcomes.push(failure.type);
        }
        victimIntact();
      }
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
    const swaps = Number(/swaps (\d+)/.exec(out)?.[1]);
    expect(swaps).toBeGreaterThan(0);
    expect(outcomes).toHaveLength(25);
    victimIntact();
    expect(fs.readdirSync(victim).sort()).toEqual(victimFiles);
  });
});
