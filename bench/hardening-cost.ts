/**
 * hardening-cost (issue 14): CPU per tool call at N = 2,000 against the pre-hardening commit
 * 3444892, on the issue's loop benchmark setup (bench/loop-scaling's Rein subject: a workspace with
 * the built-in tools, the audit trail under its `.rein/audit`, every event read from `stream()`),
 * with the scripted model making one tool call per turn (and two per turn with ~1 KB results),
 * audit trail on and off. Each figure is `process.cpuUsage()` around `run` in a fresh child, after
 * a warm-up run; old and new alternate, and the table gives medians.
 *
 * The requirement is the hardening's cost, so its rows compare like with like: this build with only
 * what 3444892 had (`foundation`: its ToolProfilePolicy, and redaction, spotlighting and injection
 * detection, which later issues added, off) against 3444892's defaults. Rows `as-built` (this
 * build's own defaults, every later feature on) are shown for information.
 *
 * The old build is extracted with `git archive` into a temporary folder (no worktree is added to
 * the repository) and built there, if the commit is in this clone. Flags: `--old <dir>` (a built
 * checkout of the old commit), `--reps <n>` (default 5; 2 with --quick), `--warmup <n>` (calls
 * before the measured run, default 200), `--profile <dir>` (a V8 CPU profile of each measured run,
 * for `node`'s DevTools or a script). A second table gives the main thread's CPU alone and the full
 * GCs that landed in the measured runs, for information.
 */
import { execFileSync, fork } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HardeningChildReport } from "./hardening-cost/child.ts";
import type { Benchmark, BenchOutput } from "./lib/bench.ts";
import { median } from "./lib/measure.ts";

const OLD_COMMIT = "3444892";
const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CHILD = fileURLToPath(new URL("./hardening-cost/child.ts", import.meta.url));

/** A built checkout of the old commit, or why there is none. */
function oldBuild(flag: string | undefined, log: (m: string) => void): string | { missing: string } {
  const dir = flag ?? join(tmpdir(), `rein-old-${OLD_COMMIT}`);
  if (existsSync(join(dir, "dist", "index.js"))) return dir;
  if (flag) return { missing: `--old ${flag} has no dist/index.js (run npm run build there)` };
  try {
    execFileSync("git", ["cat-file", "-e", `${OLD_COMMIT}^{commit}`], { cwd: ROOT, stdio: "ignore" });
  } catch {
    return {
      missing: `commit ${OLD_COMMIT} is not in this clone; pass --old <dir> with a built checkout of it`,
    };
  }
  log(`building ${OLD_COMMIT} in ${dir}`);
  if (!existsSync(join(dir, "package.json"))) {
    mkdirSync(dir, { recursive: true });
    execFileSync("sh", ["-c", `git archive ${OLD_COMMIT} | tar -x -C "$1"`, "sh", dir], {
      cwd: ROOT,
      stdio: "ignore",
    });
  }
  if (!existsSync(join(dir, "node_modules")))
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  execFileSync("npm", ["run", "build"], { cwd: dir, stdio: "ignore" });
  return dir;
}

type Config = "as-built" | "foundation";

function measure(
  dist: string,
  calls: number,
  audit: "on" | "off",
  shape: string,
  config: Config,
  work: string,
  profile: string | undefined,
  warmup: number,
) {
  return new Promise<HardeningChildReport>((resolve, reject) => {
    const env = profile ? { ...process.env, HARDENING_COST_PROFILE: profile } : process.env;
    const child = fork(CHILD, [dist, String(calls), audit, work, shape, config, String(warmup)], { env });
    let report: HardeningChildReport | undefined;
    child.on("message", (m) => {
      report = m as HardeningChildReport;
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      report ? resolve(report) : reject(new Error(`child exited ${code} without a report`)),
    );
  });
}

const hardeningCost: Benchmark = {
  name: "hardening-cost",
  description: `CPU per tool call at N = 2,000 against the pre-hardening commit ${OLD_COMMIT}`,
  async run(options): Promise<BenchOutput> {
    const reps = Number(options.flags.reps ?? (options.quick ? 2 : 5));
    const warmup = Number(options.flags.warmup ?? 200);
    if (!Number.isInteger(warmup) || warmup < 2 || warmup % 2 !== 0)
      throw new Error(`--warmup must be an even integer >= 2, got ${options.flags.warmup}`);
    const old = oldBuild(options.flags.old, options.log);
    if (typeof old !== "string") {
      options.log(`hardening-cost: ${old.missing}`);
      return {
        tables: [{ title: "hardening cost", header: ["status"], rows: [[`not measured: ${old.missing}`]] }],
        json: { skipped: old.missing },
      };
    }
    const calls = 2000;
    const work = mkdtempSync(join(tmpdir(), "rein-hardening-"));
    const profileDir = options.flags.profile;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const dists = { old: join(old, "dist"), new: join(ROOT, "dist") } as const;
    // Each subject: a build and the configuration it runs with. The old build has only its own defaults.
    const subjects = {
      old: { dist: dists.old, config: "as-built" },
      foundation: { dist: dists.new, config: "foundation" },
      "as-built": { dist: dists.new, config: "as-built" },
    } as const satisfies Record<string, { dist: string; config: Config }>;
    const ids = Object.keys(subjects) as (keyof typeof subjects)[];
    const results: Record<string, number[]> = {};
    const mainThread: Record<string, number[]> = {};
    const majorGcs: Record<string, number> = {};
    try {
      for (let rep = 0; rep < reps; rep++) {
        for (const shape of ["one", "two-1k"]) {
          for (const audit of ["on", "off"] as const) {
            const order = rep % 2 === 0 ? ids : [...ids].reverse();
            for (const who of order) {
              const { dist, config } = subjects[who];
              const key = `${who}|${shape}|${audit}`;
              const profile = profileDir
                ? join(profileDir, `${key.replaceAll("|", "-")}-${rep + 1}.cpuprofile`)
                : undefined;
              const r = await measure(dist, calls, audit, shape, config, work, profile, warmup);
              results[key] = [...(results[key] ?? []), r.cpuUs / calls];
              mainThread[key] = [...(mainThread[key] ?? []), r.mainCpuUs / calls];
              majorGcs[key] = (majorGcs[key] ?? 0) + r.majorGcs;
              options.log(
                `  ${key} rep ${rep + 1}: ${(r.cpuUs / calls).toFixed(1)} µs CPU/call (main thread ${(r.mainCpuUs / calls).toFixed(1)}, ${r.majorGcs} full GC)`,
              );
            }
          }
        }
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const rows: string[][] = [];
    const mainRows: string[][] = [];
    const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(0)} %`;
    for (const shape of ["one", "two-1k"]) {
      for (const audit of ["on", "off"]) {
        const o = median(results[`old|${shape}|${audit}`]!);
        const f = median(results[`foundation|${shape}|${audit}`]!);
        const a = median(results[`as-built|${shape}|${audit}`]!);
        rows.push([
          shape === "one" ? "1 call/turn" : "2 calls/turn, 1 KB",
          audit,
          o.toFixed(1),
          f.toFixed(1),
          pct(f / o - 1),
          f / o - 1 <= 0.1 ? "met" : "NOT met",
          a.toFixed(1),
          pct(a / o - 1),
        ]);
        const mo = median(mainThread[`old|${shape}|${audit}`]!);
        const mf = median(mainThread[`foundation|${shape}|${audit}`]!);
        mainRows.push([
          shape === "one" ? "1 call/turn" : "2 calls/turn, 1 KB",
          audit,
          mo.toFixed(1),
          mf.toFixed(1),
          pct(mf / mo - 1),
          `${majorGcs[`old|${shape}|${audit}`] ?? 0} / ${majorGcs[`foundation|${shape}|${audit}`] ?? 0}`,
        ]);
      }
    }
    return {
      tables: [
        {
          title: `CPU µs per tool call at N = ${calls} (median of ${reps} fresh processes each)`,
          header: [
            "shape",
            "audit",
            OLD_COMMIT,
            "this build, foundation",
            "hardening cost",
            "target ≤ +10 %",
            "this build, as built",
            "cost of every default",
          ],
          rows,
          notes: [
            "CPU = user + system of the whole process (every thread, libuv pool included) around the run; a warm-up run of 200 calls first.",
            `foundation: this build configured as ${OLD_COMMIT} was (its ToolProfilePolicy; redaction, spotlighting and injection detection off). The hardening cost is that against ${OLD_COMMIT}; the audit trail's part includes what later issues added to it (intent records, the durability barrier).`,
            `as built: this build's own defaults (policy engine, secret redaction on every event, spotlighting, injection detection, taint guard), for information.`,
          ],
        },
        {
          title: "For information: the main thread alone, and full GCs in the measured runs",
          header: [
            "shape",
            "audit",
            OLD_COMMIT,
            "this build, foundation",
            "difference",
            `full GCs (${OLD_COMMIT} / foundation)`,
          ],
          rows: mainRows,
          notes: [
            "The requirement is the process CPU above. The rest of it is V8's background threads (the optimising compiler catching up after a short warm-up, GC helpers) and the libuv pool; a full GC landing in a measured run adds tens of ms to it.",
            `Warm-up: ${warmup} calls (--warmup n).`,
          ],
        },
      ],
      json: { reps, calls, warmup, results, mainThread, majorGcs },
    };
  },
};

export default hardeningCost;
