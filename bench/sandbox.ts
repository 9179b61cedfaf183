/**
 * `npm run bench -- sandbox`: what isolation costs per command. Every subject runs `/bin/true` (start-up)
 * and `sh -c 'echo hello'` (exec latency: start, run, collect output), interleaved round-robin so
 * machine noise lands on all of them alike, against two baselines measured in the same run: a plain
 * `spawn /bin/true` and a raw `bwrap` with a minimal namespace set (user, pid, net, ipc, uts, cgroup
 * namespaces, /usr read-only, /proc, /dev; no generated /etc, no /tmp cap, no seccomp, no limits, no
 * root drop), started by the invoking user. Target: BubblewrapSandbox with every limit on ≤ 1.5× raw
 * bwrap (p50). Two more rows add Rein's steps one at a time (sandbox-bwrap-phases.ts), and a phase
 * table turns their differences into a breakdown of the cold start. Each row also gives the CPU a
 * command cost (this process's, and bwrap's and the command's), which load distorts far less than wall time.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BubblewrapSandbox, type Sandbox, UnsafeLocalProcess } from "../dist/index.js";
import type { Benchmark, Table } from "./lib/bench.ts";
import { bwrapPhaseSubjects } from "./sandbox-bwrap-phases.ts";
import { dockerBench } from "./sandbox-docker.ts";
import { wasmFigures } from "./sandbox-wasm.ts";

type Run = (argv: readonly string[]) => Promise<void>;

function spawnRun(prefix: readonly string[], as?: { uid: number; gid: number }): Run {
  return (argv) =>
    new Promise((resolve, reject) => {
      const all = [...prefix, ...argv];
      const child = spawn(all[0]!, all.slice(1), { stdio: ["pipe", "pipe", "pipe"], detached: true, ...as });
      let open = 3;
      const done = () => --open === 0 && resolve();
      child.on("error", reject);
      child.stdin.end();
      child.stdout.resume().on("close", done);
      child.stderr.resume().on("close", done);
      child.on("exit", (code) =>
        code === 0 ? done() : reject(new Error(`${all.join(" ")} exited ${code}`)),
      );
    });
}

const RAW_BWRAP = [
  "bwrap",
  "--unshare-all",
  "--unshare-user",
  "--die-with-parent",
  "--new-session",
  "--ro-bind",
  "/usr",
  "/usr",
  "--symlink",
  "usr/bin",
  "/bin",
  "--symlink",
  "usr/lib",
  "/lib",
  "--symlink",
  "usr/lib64",
  "/lib64",
  "--proc",
  "/proc",
  "--dev",
  "/dev",
  "--",
];

function sandboxRun(s: Sandbox): Run {
  return async (argv) => {
    const r = await s.exec(argv);
    if (r.exitCode !== 0) throw new Error(`${s.name}: ${argv.join(" ")} exited ${r.exitCode}: ${r.stderr}`);
  };
}

/** CPU time of this process's reaped children (and theirs), in ms: utime + stime from /proc/self/stat. */
function childrenCpuMs(): number {
  const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
  // After "pid (comm) ": state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS_PER_S;
}
const CLOCK_TICKS_PER_S = 100;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

const bench: Benchmark = {
  name: "sandbox",
  description: "cold start and exec latency: bubblewrap with every limit on vs raw bwrap vs spawn /bin/true",
  async run({ quick, flags, log }) {
    const n = Number(flags.n ?? (quick ? 20 : 200));
    const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-bench-sandbox-")));
    fs.chmodSync(base, 0o755);
    const ws = (name: string, mode = 0o755) => {
      const d = path.join(base, name);
      fs.mkdirSync(d, { mode });
      fs.chmodSync(d, mode);
      return d;
    };
    const hidden = ws("hidden", 0o700);
    fs.mkdirSync(path.join(hidden, "ws"));
    fs.writeFileSync(path.join(ws("files"), "README.md"), "x");

    const limits = { memoryBytes: 512 * 1024 * 1024, pids: 256, cpus: 1, tmpBytes: 64 * 1024 * 1024 };
    const all = new BubblewrapSandbox({
      workspace: path.join(base, "files"),
      memory: limits.memoryBytes,
      pids: limits.pids,
      cpus: limits.cpus,
      tmpSize: limits.tmpBytes,
    });
    const phases = await bwrapPhaseSubjects(all, limits, ws("phases"));
    const rlimits = new BubblewrapSandbox({ workspace: ws("rl"), limitsVia: "rlimit" });
    const staged = new BubblewrapSandbox({ workspace: path.join(hidden, "ws") });
    const unsafe = new UnsafeLocalProcess({ workspace: ws("unsafe") });
    const root = process.getuid?.() === 0;
    const subjects: { name: string; note: string; run: Run }[] = [
      { name: "spawn /bin/true", note: "baseline: Node spawn with pipes, no isolation", run: spawnRun([]) },
      {
        name: "raw bwrap",
        note: "baseline: minimal namespaces, no limits/seccomp/root drop",
        run: spawnRun(RAW_BWRAP),
      },
      ...(root
        ? [
            {
              name: "raw bwrap as user",
              note: "the same, spawned as the sandbox user (the root drop alone)",
              run: spawnRun(RAW_BWRAP, { uid: all.identity.uid, gid: all.identity.gid }),
            },
          ]
        : []),
      {
        name: "+ rein's bwrap args",
        note: "rein's exact bwrap arguments (binds, /etc, capped /tmp, ro root, seccomp, status fd)",
        run: phases.args,
      },
      {
        name: "+ cgroups",
        note: "and born in the memory/pids/cpu cgroups (v1: Node's thread joins for the spawn; v2: a shell step)",
        run: phases.cgroups,
      },
      {
        name: "rein bubblewrap",
        note: `every limit on (${all.capabilities.limits.join(", ")}), seccomp, masks`,
        run: sandboxRun(all),
      },
      { name: "rein bwrap rlimits", note: "rlimits instead of cgroups", run: sandboxRun(rlimits) },
      {
        name: "rein bwrap staged",
        note: staged.identity.privateMount
          ? "workspace under a 0700 folder: private staging mount"
          : "(no staging needed here)",
        run: sandboxRun(staged),
      },
      { name: "UnsafeLocalProcess", note: "no isolation", run: sandboxRun(unsafe) },
    ];
    const commands: { label: string; argv: readonly string[] }[] = [
      { label: "start-up (/bin/true)", argv: ["/bin/true"] },
      { label: "exec latency (sh -c 'echo hello')", argv: ["/bin/sh", "-c", "echo hello"] },
    ];

    const samples = new Map<string, number[]>();
    // CPU per command, which load inflates far less than wall time: this process's (all its threads)
    // and its reaped children's (bwrap and what ran in it; the kernel reports those in clock ticks,
    // so only the sum over all rounds is meaningful).
    const cpu = new Map<string, { self: number; children: number }>();
    try {
      for (const c of commands) for (const s of subjects) for (let i = 0; i < 5; i++) await s.run(c.argv); // warm-up
      for (let i = 0; i < n; i++) {
        if (i % 50 === 0) log(`  round ${i}/${n}`);
        for (const c of commands) {
          for (const s of subjects) {
            const self0 = process.cpuUsage();
            const children0 = childrenCpuMs();
            const t = performance.now();
            await s.run(c.argv);
            const key = `${c.label}|${s.name}`;
            const list = samples.get(key) ?? [];
            list.push(performance.now() - t);
            samples.set(key, list);
            const selfUsed = process.cpuUsage(self0);
            const used = cpu.get(key) ?? { self: 0, children: 0 };
            used.self += (selfUsed.user + selfUsed.system) / 1000;
            used.children += childrenCpuMs() - children0;
            cpu.set(key, used);
          }
        }
      }
      // Construction + first command + dispose: what a one-shot `rein sandbox exec` pays inside Node.
      const oneShot: number[] = [];
      for (let i = 0; i < Math.min(n, 30); i++) {
        const t = performance.now();
        const s = new BubblewrapSandbox({ workspace: path.join(base, "files") });
        await s.exec(["/bin/true"]);
        await s.dispose();
        oneShot.push(performance.now() - t);
      }
      samples.set("one-shot|rein bubblewrap", oneShot);
    } finally {
      await Promise.all([
        all.dispose(),
        rlimits.dispose(),
        staged.dispose(),
        unsafe.dispose(),
        phases.dispose(),
      ]);
      fs.rmSync(base, { recursive: true, force: true });
    }

    const stat = (key: string) => {
      const sorted = [...(samples.get(key) ?? [])].sort((a, b) => a - b);
      return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), n: sorted.length };
    };
    const tables: Table[] = [];
    const json: Record<string, unknown> = { n, limits: all.capabilities.limits, identity: all.identity };
    for (const c of commands) {
      const raw = stat(`${c.label}|raw bwrap`).p50;
      const bare = stat(`${c.label}|spawn /bin/true`).p50;
      const rows = subjects.map((s) => {
        const st = stat(`${c.label}|${s.name}`);
        json[`${c.label}|${s.name}`] = st;
        const used = cpu.get(`${c.label}|${s.name}`);
        const perCommand = used ? { node: used.self / st.n, children: used.children / st.n } : undefined;
        json[`cpu|${c.label}|${s.name}`] = perCommand;
        return [
          s.name,
          st.p50.toFixed(2),
          st.p95.toFixed(2),
          `${(st.p50 / raw).toFixed(2)}×`,
          `${(st.p50 / bare).toFixed(2)}×`,
          perCommand ? `${perCommand.node.toFixed(2)} + ${perCommand.children.toFixed(2)}` : "",
          s.note,
        ];
      });
      tables.push({
        title: `${c.label}, ms per command (n = ${n} each, interleaved)`,
        header: ["subject", "p50", "p95", "×raw bwrap", "×spawn", "cpu node + children", "what"],
        rows,
      });
    }
    // Differences of p50s between rows that add one step each: an estimate of each step's share.
    const phaseRows = commands.map((c) => {
      const p = (name: string) => stat(`${c.label}|${name}`).p50;
      const u = (name: string) => {
        const used = cpu.get(`${c.label}|${name}`);
        return used ? (used.self + used.children) / stat(`${c.label}|${name}`).n : Number.NaN;
      };
      const rows: [string, string, string | undefined][] = [
        ["raw bwrap (minimal namespaces)", "raw bwrap", undefined],
        ["rein's bwrap arguments (binds, /etc, /tmp cap, seccomp)", "+ rein's bwrap args", "raw bwrap"],
        ["cgroups (spawned into memory/pids/cpu)", "+ cgroups", "+ rein's bwrap args"],
        ["Node side (scan, cgroup pool, status pipe, supervise)", "rein bubblewrap", "+ cgroups"],
      ];
      const steps = rows.map(([label, row, prev]) => ({
        label,
        ms: p(row) - (prev ? p(prev) : 0),
        cpuMs: u(row) - (prev ? u(prev) : 0),
      }));
      json[`phases|${c.label}`] = Object.fromEntries(steps.map((st) => [st.label, st.ms]));
      json[`phasesCpu|${c.label}`] = Object.fromEntries(steps.map((st) => [st.label, st.cpuMs]));
      return steps.map((st) => [c.label, st.label, st.ms.toFixed(2), st.cpuMs.toFixed(2)]);
    });
    tables.push({
      title:
        "bubblewrap cold start by phase (difference of p50s, and of mean CPU per command, of rows that add one step each)",
      header: ["command", "phase", "ms", "cpu ms"],
      rows: phaseRows.flat(),
    });
    const one = stat("one-shot|rein bubblewrap");
    json.oneShot = one;
    const reinStart = stat(`${commands[0]!.label}|rein bubblewrap`);
    const rawStart = stat(`${commands[0]!.label}|raw bwrap`);
    const ratio = reinStart.p50 / rawStart.p50;
    json.targetRatio = ratio;
    json.targetRatioP95 = reinStart.p95 / rawStart.p95;
    tables.push({
      title: "Targets",
      header: ["target", "figure", "verdict"],
      rows: [
        [
          "rein bubblewrap (every limit on) start-up p50 ≤ 1.5× raw bwrap",
          `${ratio.toFixed(2)}×`,
          ratio <= 1.5 ? "MET" : "NOT MET",
        ],
        [
          "the same at p95 (info: the tail is the machine's more than Rein's)",
          `${(reinStart.p95 / rawStart.p95).toFixed(2)}× (${reinStart.p95.toFixed(1)} vs ${rawStart.p95.toFixed(1)} ms)`,
          "info",
        ],
        [
          "new BubblewrapSandbox + first exec + dispose (p50 / p95 ms)",
          `${one.p50.toFixed(1)} / ${one.p95.toFixed(1)}`,
          "info",
        ],
      ],
    });
    // Docker and gVisor rows, against the same run's spawn and bubblewrap figures.
    const docker = await dockerBench({
      n: Number(flags["docker-n"] ?? (quick ? 3 : 20)),
      log,
      spawnP50: stat(`${commands[0]!.label}|spawn /bin/true`).p50,
      bubblewrapP50: stat(`${commands[0]!.label}|rein bubblewrap`).p50,
    });
    tables.push(...docker.tables);
    json.docker = docker.json;
    if (flags.wasm !== "0") {
      const wasmWs = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-bench-wasm-")));
      try {
        const spawnP50 = stat(`${commands[0]!.label}|spawn /bin/true`).p50;
        const wasm = await wasmFigures({ quick, workspace: wasmWs, spawnP50, log });
        tables.push(...wasm.tables);
        json.wasm = wasm.json;
      } finally {
        fs.rmSync(wasmWs, { recursive: true, force: true });
      }
    }
    return { tables, json };
  },
};

export default bench;
