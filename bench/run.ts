/**
 * Benchmark runner: `node --expose-gc bench/run.ts [names...] [--quick] [--flag value ...]`
 * (`npm run bench -- loop-scaling` builds first). Runs the named benchmarks (default: all), prints
 * their tables and writes each one's JSON to `bench/results/<name>-<ISO date>.json`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { type Benchmark, formatTable } from "./lib/bench.ts";

/** Every benchmark, by name: each is `bench/<name>.ts` exporting a `Benchmark` as default. */
const BENCHMARKS = [
  "loop-scaling",
  "gateway",
  "sandbox",
  "guards",
  "policy",
  "security",
  "egress",
  "evals",
  "observability",
  "many-sessions",
  "hardening-cost",
  "cli-startup",
  "state",
] as const;

const benchDir = dirname(fileURLToPath(import.meta.url));

interface Args {
  readonly names: string[];
  readonly quick: boolean;
  readonly flags: Record<string, string>;
}

function parseArgs(argv: readonly string[]): Args {
  const names: string[] = [];
  const flags: Record<string, string> = {};
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") quick = true;
    else if (arg.startsWith("--")) {
      const [key, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`flag --${key} needs a value`);
      flags[key] = value;
    } else names.push(arg);
  }
  return { names, quick, flags };
}

function machineInfo() {
  const cpu = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    cpuModel: cpu[0]?.model ?? "unknown",
    cores: cpu.length,
    totalMemoryBytes: totalmem(),
    os: `${platform()} ${release()}`,
    arch: process.arch,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const unknown = args.names.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${BENCHMARKS.join(", ")}`);
  }
  const names = args.names.length > 0 ? args.names : [...BENCHMARKS];
  const machine = machineInfo();
  const log = (message: string) => process.stderr.write(`${message}\n`);
  log(`node ${machine.node} · ${machine.cpuModel} × ${machine.cores} · ${machine.os}`);

  for (const name of names) {
    const bench = ((await import(`./${name}.ts`)) as { default: Benchmark }).default;
    log(`\n== ${bench.name}: ${bench.description}${args.quick ? " (quick)" : ""}`);
    const startedAt = new Date();
    const output = await bench.run({ quick: args.quick, flags: args.flags, log });
    const durationS = (Date.now() - startedAt.getTime()) / 1000;

    console.log(`\n${bench.name}${args.quick ? " (quick)" : ""} · ${durationS.toFixed(0)} s`);
    for (const table of output.tables) console.log(`\n${formatTable(table)}`);

    const file = join(
      benchDir,
      "results",
      `${bench.name}-${startedAt.toISOString().replaceAll(":", "-")}.json`,
    );
    mkdirSync(dirname(file), { recursive: true });
    const record = {
      benchmark: bench.name,
      description: bench.description,
      startedAt: startedAt.toISOString(),
      durationS,
      options: { quick: args.quick, flags: args.flags },
      machine,
      results: output.json,
    };
    writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
    console.log(`\nJSON: ${relative(process.cwd(), file)}`);
  }
}

await main();
