/**
 * `rein --version` and `rein --help` against a bare `node -e ''`, spawned alternately in the same run:
 * what the CLI's start-up adds. Target: ≤ 100 ms over bare Node (median), because neither loads a
 * subsystem (tests/cli/cli-behaviour.test.ts lists the modules they load).
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Benchmark } from "./lib/bench.ts";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "rein.js");

const SUBJECTS = {
  "node -e ''": ["-e", ""],
  "rein --version": [BIN, "--version"],
  "rein --help": [BIN, "--help"],
  "rein run --help": [BIN, "run", "--help"],
} as const;
type Subject = keyof typeof SUBJECTS;

function timeOnce(args: readonly string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const bench: Benchmark = {
  name: "cli-startup",
  description:
    "rein --version / --help against a bare node -e '' (spawned alternately; target ≤ 100 ms over bare Node)",
  async run({ quick, log }) {
    const rounds = quick ? 10 : 40;
    const times = Object.fromEntries(Object.keys(SUBJECTS).map((k) => [k, [] as number[]])) as Record<
      Subject,
      number[]
    >;
    for (const subject of Object.keys(SUBJECTS) as Subject[]) timeOnce(SUBJECTS[subject]); // warm the page cache
    for (let i = 0; i < rounds; i++)
      for (const subject of Object.keys(SUBJECTS) as Subject[])
        times[subject].push(timeOnce(SUBJECTS[subject]));
    log(`${rounds} rounds`);
    const base = median(times["node -e ''"]);
    const rows = (Object.keys(SUBJECTS) as Subject[]).map((subject) => {
      const m = median(times[subject]);
      const over = m - base;
      const verdict = subject === "node -e ''" ? "baseline" : over <= 100 ? "MET" : "NOT MET";
      return [
        subject,
        m.toFixed(1),
        Math.min(...times[subject]).toFixed(1),
        over.toFixed(1),
        (m / base).toFixed(2),
        verdict,
      ];
    });
    return {
      tables: [
        {
          title: "CLI start-up, median of spawned processes (ms)",
          header: ["subject", "median", "min", "over node", "× node", "≤ 100 ms over"],
          rows,
        },
      ],
      json: {
        rounds,
        medians: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])),
        times,
      },
    };
  },
};

export default bench;
