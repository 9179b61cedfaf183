/**
 * policy (issue 15): how fast is one decision, and does the policy engine slow the loop?
 * 1. Classification throughput and latency over the shell fixture (tests/fixtures/shell-commands.yaml):
 *    commands/s and p50/p99 of one `classify`, against two baselines measured in the same run:
 *    ToolProfilePolicy (no argument analysis) and a bare tree-sitter parse.
 * 2. The loop: per-call cost of a session whose model calls a no-op tool named run_shell, with the
 *    policy engine vs ToolProfilePolicy (the ratio is the engine's cost in the loop).
 * 3. The parsers: tree-sitter-bash (web-tree-sitter) vs sh-syntax (mvdan/sh in WebAssembly) — time per
 *    command and which fixture commands each reports as not parsing.
 * Flags: `--quick`, `--reps <n>` (fixture passes, default 20; 3 with --quick).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { median } from "./lib/measure.ts";

const FIXTURE = join(fileURLToPath(new URL(".", import.meta.url)), "../tests/fixtures/shell-commands.yaml");

function commands(): string[] {
  const doc = parseYaml(readFileSync(FIXTURE, "utf8")) as Record<string, [string, string][]>;
  return Object.values(doc).flatMap((rows) => rows.map(([, command]) => command));
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const fmt = (n: number, digits = 3) => n.toFixed(digits);

async function run(options: BenchOptions): Promise<BenchOutput> {
  const unknown = Object.keys(options.flags).filter((f) => f !== "reps");
  if (unknown.length > 0) throw new Error(`policy: unknown flag(s) --${unknown.join(", --")}`);
  const reps = Number(options.flags.reps ?? (options.quick ? 3 : 20));
  if (!Number.isInteger(reps) || reps < 1) throw new Error("--reps must be a positive integer");
  const rein = await import("../dist/index.js");
  const { z } = await import("zod");
  const cmds = commands();
  const engine = await rein.createPolicyEngine({ workspace: "/home/dev/project", home: "/home/dev" });
  const profile = new rein.ToolProfilePolicy();
  const parser = await rein.loadShellParser();
  const shellTool = rein.defineTool({
    name: "run_shell",
    description: "no-op stand-in: the policy analyses the command, nothing runs",
    input: z.object({ command: z.string() }),
    risk: { level: "HIGH", reason: "shell" },
    execute: () => "ok",
  });
  const call = (command: string) => ({
    tool: shellTool,
    input: { command },
    sessionId: "s",
    tenantId: "local",
  });

  // 1. Decisions over the fixture.
  const subjects: { name: string; one: (c: string) => unknown }[] = [
    { name: "baseline: ToolProfilePolicy (no analysis)", one: (c) => profile.classify(call(c)) },
    { name: "baseline: tree-sitter parse only", one: (c) => parser.parse(c) },
    { name: "PolicyEngine.classify", one: (c) => engine.classify(call(c)) },
  ];
  const decisionRows: string[][] = [];
  const decisionJson: Record<string, unknown> = {};
  for (const s of subjects) {
    for (const c of cmds) s.one(c); // warm-up
    const each: number[] = [];
    const started = performance.now();
    for (let r = 0; r < reps; r++) {
      for (const c of cmds) {
        const t = performance.now();
        s.one(c);
        each.push(performance.now() - t);
      }
    }
    const totalMs = performance.now() - started;
    const perSecond = (each.length / totalMs) * 1000;
    const p50 = percentile(each, 50);
    const p99 = percentile(each, 99);
    decisionRows.push([s.name, fmt(perSecond, 0), fmt(p50), fmt(p99), fmt(percentile(each, 100))]);
    decisionJson[s.name] = {
      decisions: each.length,
      perSecond,
      p50Ms: p50,
      p99Ms: p99,
      maxMs: percentile(each, 100),
    };
    options.log(`${s.name}: ${perSecond.toFixed(0)}/s, p99 ${p99.toFixed(3)} ms`);
  }

  // 2. The loop with each policy: the same session of N no-op run_shell calls.
  const loopCalls = options.quick ? 300 : 2000;
  const loopCommands = [
    "git status && npm test",
    "rm -rf build",
    "cat README.md | grep -n TODO",
    "ls -la src",
  ];
  const loopRows: string[][] = [];
  const loopJson: Record<string, unknown> = {};
  const perCall: Record<string, number> = {};
  for (const [name, policy] of [
    ["ToolProfilePolicy", profile],
    ["PolicyEngine", engine],
  ] as const) {
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      const turns = Array.from({ length: loopCalls }, (_, i) => ({
        tool_calls: [{ tool: "run_shell", input: { command: loopCommands[i % loopCommands.length] } }],
      }));
      const harness = rein.createHarness({
        model: rein.scriptedModel({ name: "bench", turns: [...turns, { say: "done" }] }),
        tools: [shellTool],
        policy,
        audit: false,
        limits: { maxTurns: loopCalls + 5 },
        approvals: { gate: rein.callbackGate(() => ({ approve: true })) },
      });
      const t = performance.now();
      const result = await harness.session().run("bench");
      times.push(performance.now() - t);
      if (result.stopReason.type !== "completed")
        throw new Error(`loop run ended ${JSON.stringify(result.stopReason)}`);
    }
    perCall[name] = median(times) / loopCalls;
    loopJson[name] = { calls: loopCalls, runsMs: times, perCallMs: perCall[name] };
  }
  const ratio = (perCall.PolicyEngine ?? 0) / (perCall.ToolProfilePolicy ?? 1);
  loopRows.push(["ToolProfilePolicy (baseline)", fmt(perCall.ToolProfilePolicy ?? 0), "1.00×"]);
  loopRows.push(["PolicyEngine", fmt(perCall.PolicyEngine ?? 0), `${ratio.toFixed(2)}×`]);

  // 3. The parsers.
  const parserRows: string[][] = [];
  const parserJson: Record<string, unknown> = {};
  const tsErrors = cmds.filter((c) => parser.parse(c).problems.length > 0);
  const tsTimes: number[] = [];
  for (const c of cmds) {
    const t = performance.now();
    parser.parse(c);
    tsTimes.push(performance.now() - t);
  }
  parserRows.push([
    "web-tree-sitter + tree-sitter-bash",
    "sync",
    fmt(median(tsTimes)),
    fmt(percentile(tsTimes, 99)),
    String(tsErrors.length),
  ]);
  parserJson.treeSitter = { medianMs: median(tsTimes), p99Ms: percentile(tsTimes, 99), errors: tsErrors };
  try {
    const sh = (await import("sh-syntax")) as { parse: (text: string) => Promise<unknown> };
    const shErrors: string[] = [];
    const shTimes: number[] = [];
    await sh.parse("true");
    for (const c of cmds) {
      const t = performance.now();
      try {
        await sh.parse(c);
      } catch {
        shErrors.push(c);
      }
      shTimes.push(performance.now() - t);
    }
    parserRows.push([
      "sh-syntax (mvdan/sh, wasm)",
      "async",
      fmt(median(shTimes)),
      fmt(percentile(shTimes, 99)),
      String(shErrors.length),
    ]);
    const onlyTs = tsErrors.filter((c) => !shErrors.includes(c));
    const onlySh = shErrors.filter((c) => !tsErrors.includes(c));
    parserJson.shSyntax = {
      medianMs: median(shTimes),
      p99Ms: percentile(shTimes, 99),
      errors: shErrors,
      onlyTreeSitterErrors: onlyTs,
      onlyShSyntaxErrors: onlySh,
    };
  } catch (err) {
    parserRows.push([
      "sh-syntax (mvdan/sh, wasm)",
      "n/a",
      "",
      "",
      `not installed: ${String(err).slice(0, 60)}`,
    ]);
  }

  return {
    tables: [
      {
        title: `One decision over the shell fixture (${cmds.length} commands × ${reps})`,
        header: ["subject", "decisions/s", "p50 ms", "p99 ms", "max ms"],
        rows: decisionRows,
      },
      {
        title: `The loop: ${loopCalls} no-op run_shell calls in one session (median of 3)`,
        header: ["policy", "ms per call", "ratio"],
        rows: loopRows,
        notes: ["ratio: per-call loop cost against ToolProfilePolicy in the same run"],
      },
      {
        title: `Parsers on the fixture (${cmds.length} commands)`,
        header: ["parser", "api", "median ms", "p99 ms", "commands it rejects"],
        rows: parserRows,
      },
    ],
    json: { decisions: decisionJson, loop: loopJson, parsers: parserJson },
  };
}

const bench: Benchmark = {
  name: "policy",
  description:
    "policy decisions per second, p99 of one decision, the engine's cost in the loop, and the two shell parsers",
  run,
};
export default bench;
