import { existsSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { removeParents } from "../../../src/sandbox/bubblewrap/limits/cgroup.js";

describe("cgroup folders at exit", () => {
  it("removes idle per-command folders first, then the parents (a folder with children cannot be removed)", () => {
    const root = mkdtempSync(join(tmpdir(), "rein-cg-"));
    const pids = join(root, "pids", "rein-1");
    const memory = join(root, "memory", "rein-1");
    for (const d of [join(pids, "cmd-a"), join(pids, "cmd-b"), join(memory, "cmd-a")])
      mkdirSync(d, { recursive: true });
    removeParents({ version: 1, parents: { pids, memory } });
    expect(existsSync(pids)).toBe(false);
    expect(existsSync(memory)).toBe(false);
  });

  it("leaves what is not its own: a folder that is not a per-command cgroup keeps the parent in place", () => {
    const root = mkdtempSync(join(tmpdir(), "rein-cg-"));
    const pids = join(root, "pids", "rein-2");
    mkdirSync(join(pids, "cmd-a"), { recursive: true });
    mkdirSync(join(pids, "someone-else"));
    removeParents({ version: 1, parents: { pids } });
    expect(readdirSync(pids)).toEqual(["someone-else"]);
  });
});
