/**
 * hardening-cost (issue 14): CPU per tool call at N = 2,000 against the pre-hardening commit
 * 3444892, measured as the issue measured it: a fresh child per run, `process.cpuUsage()` around
 * `session.run()` with the scripted model and one tool call per turn (and two per turn with ~1 KB
 * results), audit trail on and off, old and new alternating. The old build comes from a git
 * worktree of 3444892 (built here if the commit is in this clone; otherwise the benchmark says so).
 * Flags: `--old <dir>` (a built checkout of the old commit), `--reps <n>` (default 5; 2 with --quick).
 */
import { execFileSync, fork } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
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
  if (!existsSync(dir))
    execFileSync("git", ["worktree", "add", "--detach", dir, OLD_COMMIT], { cwd: ROOT, stdio: "ignore" });
  if (!existsSync(join(dir, "node_modules")))
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  execFileSync("npm", ["run", "build"], { cwd: dir, stdio: "ignore" });
  return dir;
}

function measure(dist: string, calls: number, audit: "on" | "off", shape: string, work: string) {
  return new Promise<HardeningChildReport>((resolve, reject) => {
    const child = fork(CHILD, [dist, String(calls), audit, work, shape]);
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
    const subjects = { old: join(old, "dist"), new: join(ROOT, "dist") } as const;
    const results: Record<string, number[]> = {};
    try {
      for (let rep = 0; rep < reps; rep++) {
        for (const shape of ["one", "two-1k"]) {
          for (const audit of ["on", "off"] as const) {
            const order = rep % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const);
            for (const who of order) {
              const r = await measure(subjects[who], calls, audit, shape, work);
              const key = `${who}|${shape}|${audit}`;
              const list = results[key] ?? [];
              list.push(r.cpuUs / calls);
              results[key] = list;
              options.log(`  ${key} rep ${rep + 1}: ${(r.cpuUs / calls).toFixed(1)} µs CPU/call`);
            }
          }
        }
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const rows: string[][] = [];
    for (const shape of ["one", "two-1k"]) {
      for (const audit of ["on", "off"]) {
        const o = median(results[`old|${shape}|${audit}`]!);
        const n = median(results[`new|${shape}|${audit}`]!);
        const cost = n / o - 1;
        rows.push([
          shape === "one" ? "1 call/turn" : "2 calls/turn, 1 KB",
          audit,
          o.toFixed(1),
          n.toFixed(1),
          `${cost >= 0 ? "+" : ""}${(cost * 100).toFixed(0)} %`,
          cost <= 0.1 ? "met" : "NOT met",
        ]);
      }
    }
    return {
      tables: [
        {
          title: `CPU µs per tool call at N = ${calls} (median of ${reps} fresh processes each)`,
          header: ["shape", "audit", OLD_COMMIT, "this build", "cost", "target ≤ +10 %"],
          rows,
          notes: [
            "CPU = user + system of the whole process (every thread, libuv pool included) around run(); a warm-up run of 200 calls first.",
            `${OLD_COMMIT} predates everything merged since (policy engine, redaction, spotlighting, injection scan, budget guards): the cost column is all of it, not the audit trail alone.`,
          ],
        },
      ],
      json: { reps, calls, results },
    };
  },
};

export default hardeningCost;
