import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  cgroupOwnerGone,
  detectCgroupHost,
  removeParents,
  sweepStaleCgroups,
} from "../../../src/sandbox/bubblewrap/limits/cgroup.js";

const BIN = resolve(import.meta.dirname, "../../../bin/rein.js");

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

/** A pid no process can have: past pid_max. */
const FREE_PID = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1;
const NS = readlinkSync("/proc/self/ns/pid").replace(/[^0-9]/g, "");
/** Field 22 of /proc/self/stat: this process's start time. */
const START = (() => {
  const stat = readFileSync(`/proc/${process.pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
})();

describe("cgroup folders of processes that are gone (crashed, SIGKILLed: no exit handler ran)", () => {
  it("sweepStaleCgroups removes the folders of gone owners with their idle per-command folders, and keeps the rest", () => {
    const base = mkdtempSync(join(tmpdir(), "rein-cg-"));
    const folder = (name: string, ...children: string[]) => {
      mkdirSync(join(base, name));
      for (const c of children) mkdirSync(join(base, name, c));
      return join(base, name);
    };
    const freePid = folder(`rein-${FREE_PID}-1234-${NS}`, "cmd-0a1b", "probe-ff");
    const reusedPid = folder(`rein-${process.pid}-${Number(START) + 1}-${NS}`, "cmd-aa");
    const legacyFree = folder(`rein-${FREE_PID}`, "cmd-bb");
    const mine = folder(`rein-${process.pid}-${START}-${NS}`, "cmd-cc");
    const legacyLive = folder("rein-1", "cmd-dd"); // pid 1 runs
    const otherNs = folder(`rein-${FREE_PID}-1234-${NS === "1" ? "2" : "1"}`, "cmd-ee");
    const notOnlyRein = folder(`rein-${FREE_PID}-99-${NS}`, "cmd-ff", "someone-else");
    const unrelated = folder("other-tool-1", "cmd-11");

    const r = sweepStaleCgroups([base, join(base, "missing")]);
    expect([...r.removed].sort()).toEqual([freePid, legacyFree, reusedPid].sort());
    for (const gone of [freePid, reusedPid, legacyFree]) expect(existsSync(gone)).toBe(false);
    // Kept: this process's own, a live old-style one, one of another pid namespace (its owner cannot be
    // seen from here), and a gone owner's folder holding something that is not Rein's.
    expect(r.kept).toBe(4);
    for (const stays of [mine, legacyLive, otherNs, unrelated]) expect(readdirSync(stays)).toHaveLength(1);
    expect(readdirSync(notOnlyRein)).toEqual(["someone-else"]);
  });

  it("cgroupOwnerGone reads the folder's name: pid, start time and pid namespace", () => {
    expect(cgroupOwnerGone(`rein-${process.pid}-${START}-${NS}`)).toBe(false);
    expect(cgroupOwnerGone(`rein-${process.pid}-${Number(START) - 1}-${NS}`)).toBe(true);
    expect(cgroupOwnerGone(`rein-${FREE_PID}-${START}-${NS}`)).toBe(true);
    expect(cgroupOwnerGone(`rein-${FREE_PID}-${START}-${NS}0`)).toBe(false);
    expect(cgroupOwnerGone(`rein-${FREE_PID}`)).toBe(true);
    expect(cgroupOwnerGone(`rein-${process.pid}`)).toBe(false);
    for (const odd of ["rein-", "rein-x", `rein-${FREE_PID}-1`, `cmd-${FREE_PID}`, `rein-${FREE_PID}-1-2-3`])
      expect(cgroupOwnerGone(odd)).toBe(false);
  });

  describe("on the host's real cgroups", () => {
    const made: string[] = [];
    const sleepers: ChildProcess[] = [];
    afterEach(() => {
      for (const c of sleepers.splice(0)) c.kill("SIGKILL");
      for (const d of made.splice(0).reverse()) {
        for (let i = 0; i < 100 && existsSync(d); i++) {
          try {
            rmdirSync(d);
          } catch {
            spawnSync("sleep", ["0.02"]);
          }
        }
      }
    });

    /**
     * A pids cgroup of the test's own under this process's, and a CLI run moved into it first: that run
     * sweeps this folder, which no other Rein process (other test files run at once) looks into.
     */
    function privateBase(): string {
      const host = detectCgroupHost();
      if (process.getuid?.() === 0) expect(host?.parents.pids).toBeDefined();
      const base = join(dirname(host!.parents.pids!), `rein-test-${process.pid}-${made.length}`);
      mkdirSync(base);
      made.push(base);
      return base;
    }
    function reinIn(base: string, args: string[], cwd?: string) {
      return spawnSync(
        "sh",
        ["-c", 'echo $$ > "$BASE/cgroup.procs" && exec "$NODE" "$BIN" "$@"', "sh", ...args],
        {
          cwd,
          encoding: "utf8",
          env: { ...process.env, NO_COLOR: "1", BASE: base, NODE: process.execPath, BIN },
          timeout: 120_000,
        },
      );
    }
    function folders(...dirs: string[]) {
      for (const d of dirs) {
        mkdirSync(d);
        made.push(d);
      }
    }

    it("a stale folder is swept by rein sandbox sweep; one that still holds a process stays, with the process untouched", () => {
      const base = privateBase();
      const stale = join(base, `rein-${FREE_PID}-1-${NS}`);
      const busy = join(base, `rein-${FREE_PID}-2-${NS}`);
      folders(stale, join(stale, "cmd-01"), busy, join(busy, "cmd-02"));
      const sleeper = spawn("sleep", ["600"], { stdio: "ignore" });
      sleepers.push(sleeper);
      writeFileSync(join(busy, "cmd-02", "cgroup.procs"), String(sleeper.pid));

      const out = reinIn(base, ["sandbox", "sweep", "--json", "--socket", "/nonexistent/docker.sock"]);
      // An engine named by --socket must answer: the cgroups are swept first, then the command fails.
      expect(out.status).not.toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({
        type: "error",
        code: "REIN_SANDBOX_ENGINE_UNAVAILABLE",
      });
      expect(existsSync(stale)).toBe(false);
      folders(stale, join(stale, "cmd-01"));

      const again = reinIn(base, ["sandbox", "sweep", "--json"], undefined);
      expect(again.status, again.stderr).toBe(0);
      const r = JSON.parse(again.stdout);
      // Under the other controllers' folders, shared with every process here, whatever they hold is counted too.
      expect(r.cgroups.removed.filter((d: string) => d.startsWith(`${base}/`))).toEqual([stale]);
      expect(r.cgroups.kept).toBeGreaterThanOrEqual(1);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(join(busy, "cmd-02"))).toBe(true);
      expect(readFileSync(join(busy, "cmd-02", "cgroup.procs"), "utf8").trim()).toBe(String(sleeper.pid));
      expect(typeof r.engine).toBe("boolean");
    });

    it("a Rein process sweeps leftovers when it first sets up its cgroups (rein sandbox exec)", () => {
      const base = privateBase();
      const stale = join(base, `rein-${FREE_PID}-3-${NS}`);
      folders(stale, join(stale, "cmd-03"));
      const out = reinIn(base, ["sandbox", "exec", "--", "true"], mkdtempSync(join(tmpdir(), "rein-cg-ws-")));
      expect(out.status, out.stderr).toBe(0);
      expect(existsSync(stale)).toBe(false);
    });
  });
});
