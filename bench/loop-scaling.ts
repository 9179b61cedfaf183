/**
 * loop-scaling (issue 11): does the cost of one tool call stay flat as a session grows?
 * Rein, @openai/agents and the AI SDK run N = 500, 2,000 and 10,000 one-no-op-call turns in one
 * process, next to two baselines; then each subject runs once more at 2,000 in a fresh process
 * for its own peak RSS. Two shapes (`--shape one|two|both`, default both): one no-op call per turn
 * answering "ok", and two calls per turn answering ~1 KB each (N counts calls in both). Flags:
 * `--quick`, `--peer-budget <seconds>` (default 150), `--reps <n>` (default 3; one with `--quick`).
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { measure, median } from "./lib/measure.ts";
import type { ChildReport } from "./loop-scaling/child.ts";
import { type Cell, type ChildResult, report } from "./loop-scaling/report.ts";
import { loadSubjects, SHAPES, type Shape, type ShapeId, type Subject } from "./loop-scaling/subjects.ts";

const SHAPE_LABELS: Record<ShapeId, string> = {
  one: 'one call per turn, result "ok"',
  two: "two calls per turn, ~1 KB results",
};

interface Config {
  readonly sizes: readonly number[];
  readonly reps: number;
  readonly warmupCalls: number;
  /** N for the fresh-process RSS runs. */
  readonly rssCalls: number;
  /** Wall-clock allowance, in seconds, for all runs of one peer at one N. */
  readonly peerBudgetS: number;
}

function configOf(options: BenchOptions): Config {
  const unknown = Object.keys(options.flags).filter(
    (flag) => flag !== "peer-budget" && flag !== "reps" && flag !== "shape",
  );
  if (unknown.length > 0) throw new Error(`loop-scaling: unknown flag(s) --${unknown.join(", --")}`);
  const budget = Number(options.flags["peer-budget"] ?? 150);
  if (!(budget > 0)) throw new Error("--peer-budget must be a positive number of seconds");
  const reps = Number(options.flags.reps ?? (options.quick ? 1 : 3));
  if (!Number.isInteger(reps) || reps < 1) throw new Error("--reps must be a positive integer");
  return options.quick
    ? { sizes: [100, 400, 2000], reps, warmupCalls: 50, rssCalls: 2000, peerBudgetS: budget }
    : { sizes: [500, 2000, 10_000], reps, warmupCalls: 200, rssCalls: 2000, peerBudgetS: budget };
}

/**
 * Projected ms per call at `calls`, from the sizes measured so far. Assumes the per-call cost grows
 * linearly with N (a loop doing O(history) work per step), fitted through the two largest sizes;
 * with one size, proportional to N, the pessimistic case.
 */
function projectPerCallMs(points: readonly { calls: number; perCallMs: number }[], calls: number): number {
  const [a, b] = [...points].sort((x, y) => x.calls - y.calls).slice(-2);
  if (!a) return 0;
  if (!b) return (a.perCallMs * calls) / a.calls;
  const slope = Math.max(0, (b.perCallMs - a.perCallMs) / (b.calls - a.calls));
  return b.perCallMs + slope * (calls - b.calls);
}

/**
 * Whether a peer's next run at this N fits its budget: the time spent so far plus the expected time
 * of the run (the projection before the first run, the last run's time after it).
 */
function fitsBudget(cell: Cell, budgetS: number): boolean {
  const spentS = cell.runs.reduce((sum, r) => sum + r.ms, 0) / 1000;
  const nextS = cell.runs.length === 0 ? (cell.projectedRunS ?? 0) : cell.runs.at(-1)!.ms / 1000;
  return spentS + nextS <= budgetS;
}

async function runOnce(subject: Subject, calls: number, shape: Shape) {
  const measured = await measure(() => subject.run(calls, shape));
  subject.check(measured.value, calls); // also keeps the result referenced until after the heap reading
  return { ms: measured.ms, perCallUs: (measured.ms * 1000) / calls, heldBytes: measured.heldBytes };
}

/** Runs every available subject at every size, alternating the order of subjects between repetitions. */
async function measureInProcess(
  subjects: readonly Subject[],
  config: Config,
  shape: Shape,
  log: (m: string) => void,
) {
  const available = subjects.filter((s) => s.available === true);
  const history = new Map(available.map((s) => [s.id, [] as { calls: number; perCallMs: number }[]]));

  log(`warm-up: ${config.warmupCalls} calls each`);
  for (const subject of available) {
    const { perCallUs } = await runOnce(subject, config.warmupCalls, shape);
    history.get(subject.id)!.push({ calls: config.warmupCalls, perCallMs: perCallUs / 1000 });
  }

  const cells: Cell[] = [];
  for (const calls of config.sizes) {
    const planned = new Map<Subject, Cell>();
    for (const subject of available) {
      const cell: Cell = { subject: subject.id, calls, runs: [] };
      if (subject.kind === "peer") {
        cell.projectedRunS = (projectPerCallMs(history.get(subject.id)!, calls) * calls) / 1000;
      }
      planned.set(subject, cell);
      cells.push(cell);
    }
    for (let rep = 0; rep < config.reps; rep++) {
      const order = rep % 2 === 0 ? available : [...available].reverse();
      for (const [position, subject] of order.entries()) {
        const cell = planned.get(subject)!;
        if (subject.kind === "peer" && !fitsBudget(cell, config.peerBudgetS)) continue;
        const run = await runOnce(subject, calls, shape);
        cell.runs.push({ ...run, rep, position });
        log(
          `  ${subject.id} N=${calls} run ${rep + 1}: ${run.perCallUs.toFixed(1)} µs/call, ${(run.ms / 1000).toFixed(1)} s`,
        );
      }
    }
    for (const [subject, cell] of planned) {
      if (cell.runs.length === 0) continue;
      history.get(subject.id)!.push({ calls, perCallMs: median(cell.runs.map((r) => r.perCallUs)) / 1000 });
    }
  }
  return cells;
}

function runChild(subject: Subject, calls: number, shape: ShapeId, workdir: string): Promise<ChildReport> {
  const entry = fileURLToPath(new URL("./loop-scaling/child.ts", import.meta.url));
  return new Promise((resolve, reject) => {
    const child = fork(entry, [subject.id, String(calls), workdir, shape], { execArgv: ["--expose-gc"] });
    let report: ChildReport | undefined;
    child.on("message", (message) => {
      report = message as ChildReport;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (report) resolve(report);
      else reject(new Error(`child for ${subject.id} exited with ${signal ?? `code ${code}`} and no report`));
    });
  });
}

/** Peak RSS per subject: one fresh process each, run once at `config.rssCalls`. */
async function measureRss(
  subjects: readonly Subject[],
  cells: readonly Cell[],
  config: Config,
  shape: ShapeId,
  workdir: string,
  log: (m: string) => void,
) {
  const results: ChildResult[] = [];
  for (const subject of subjects) {
    if (subject.available !== true) continue;
    const calls = config.rssCalls;
    const measured = cells.find((c) => c.subject === subject.id && c.calls === calls && c.runs.length > 0);
    const projectedRunS = measured
      ? Math.min(...measured.runs.map((r) => r.ms)) / 1000
      : cells.find((c) => c.subject === subject.id && c.calls === calls)?.projectedRunS;
    if (subject.kind === "peer" && projectedRunS !== undefined && projectedRunS > config.peerBudgetS) {
      results.push({
        subject: subject.id,
        calls,
        skipped: `not run: projected ${projectedRunS.toFixed(0)} s`,
      });
      continue;
    }
    log(`fresh process: ${subject.id} N=${calls}`);
    try {
      results.push({ subject: subject.id, calls, report: await runChild(subject, calls, shape, workdir) });
    } catch (err) {
      results.push({ subject: subject.id, calls, error: (err as Error).message });
    }
  }
  return results;
}

const loopScaling: Benchmark = {
  name: "loop-scaling",
  description: "per-tool-call cost and memory as one session grows to 10,000 tool calls",
  async run(options): Promise<BenchOutput> {
    const config = configOf(options);
    const workdir = mkdtempSync(join(tmpdir(), "rein-bench-"));
    try {
      const subjects = await loadSubjects(workdir);
      for (const s of subjects) if (s.available !== true) options.log(`${s.id}: ${s.available}`);
      const wanted = options.flags.shape ?? "both";
      if (wanted !== "one" && wanted !== "two" && wanted !== "both")
        throw new Error(`--shape must be one, two or both, got ${wanted}`);
      const shapes: ShapeId[] = wanted === "both" ? ["one", "two"] : [wanted];
      const outputs: BenchOutput[] = [];
      for (const shape of shapes) {
        options.log(`shape "${shape}": ${SHAPE_LABELS[shape]}`);
        const cells = await measureInProcess(subjects, config, SHAPES[shape], options.log);
        const processMaxRssBytes = process.resourceUsage().maxRSS * 1024;
        const children = await measureRss(subjects, cells, config, shape, workdir, options.log);
        outputs.push(report({ config, subjects, cells, children, processMaxRssBytes }));
      }
      return {
        tables: outputs.flatMap((o, i) =>
          o.tables.map((t) => ({ ...t, title: `[${SHAPE_LABELS[shapes[i]!]}] ${t.title}` })),
        ),
        json: Object.fromEntries(outputs.map((o, i) => [shapes[i]!, o.json])),
      };
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
  },
};

export default loopScaling;
