/**
 * The Docker rows of `npm run bench -- sandbox`: cold start of the docker and gvisor sandboxes (new
 * sandbox, container started, first command, removed), a command in a warm container, and an acquire
 * from the warm pool, against `docker run --rm` of the same image in the same run. Called by
 * bench/sandbox.ts, which measures bubblewrap and `spawn /bin/true` in the same process.
 */
import { spawn } from "node:child_process";
import { createDockerPool, DockerSandbox } from "../dist/docker.js";
import type { Table } from "./lib/bench.ts";

export interface DockerBenchInput {
  readonly n: number;
  readonly log: (message: string) => void;
  /** p50 ms of `spawn /bin/true` and of one bubblewrap command (a fresh sandbox per command), this run. */
  readonly spawnP50: number;
  readonly bubblewrapP50: number;
}

interface Stat {
  p50: number;
  p95: number;
  n: number;
}

function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return { p50: at(0.5), p95: at(0.95), n: s.length };
}

async function time(samples: number[], body: () => Promise<void>): Promise<void> {
  const t = performance.now();
  await body();
  samples.push(performance.now() - t);
}

function dockerRun(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", ["run", "--rm", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`docker run exited ${code}: ${err}`)),
    );
  });
}

export async function dockerBench(o: DockerBenchInput): Promise<{ tables: Table[]; json: unknown }> {
  const probe = new DockerSandbox();
  try {
    await probe.ready();
  } catch (err) {
    await probe.dispose();
    const why = (err as Error).message;
    return {
      tables: [
        {
          title: "Docker and gVisor",
          header: ["subject", "result"],
          rows: [["docker, gvisor, pool", `not measured: ${why}`]],
        },
      ],
      json: { unavailable: why },
    };
  }
  const image = "rein-sandbox:1";
  const samples: Record<string, number[]> = {
    "docker run --rm": [],
    "docker run --rm --runtime runsc": [],
    "rein docker cold start": [],
    "rein gvisor cold start": [],
    "rein docker exec (warm container)": [],
    "rein gvisor exec (warm container)": [],
    "pool acquire (docker)": [],
  };
  const gvisor = new DockerSandbox({ runtime: "runsc" });
  const pool = createDockerPool({ size: 2 });
  try {
    await gvisor.ready();
    for (let i = 0; i < 2; i++) await probe.exec(["/bin/true"]); // warm-up
    for (let i = 0; i < o.n; i++) {
      o.log(`  docker round ${i + 1}/${o.n}`);
      await time(samples["docker run --rm"]!, () => dockerRun(["--network", "none", image, "/bin/true"]));
      await time(samples["docker run --rm --runtime runsc"]!, () =>
        dockerRun(["--runtime", "runsc", "--network", "none", image, "/bin/true"]),
      );
      for (const [key, runtime] of [
        ["rein docker cold start", undefined],
        ["rein gvisor cold start", "runsc"],
      ] as const) {
        await time(samples[key]!, async () => {
          const s = new DockerSandbox(runtime ? { runtime } : {});
          await s.exec(["/bin/true"]);
          await s.dispose();
        });
      }
      await time(
        samples["rein docker exec (warm container)"]!,
        async () => void (await probe.exec(["/bin/true"])),
      );
      await time(
        samples["rein gvisor exec (warm container)"]!,
        async () => void (await gvisor.exec(["/bin/true"])),
      );
      await pool.fill();
      let taken: DockerSandbox | undefined;
      await time(samples["pool acquire (docker)"]!, async () => {
        taken = await pool.acquire();
      });
      await taken?.dispose();
    }
  } finally {
    await Promise.all([probe.dispose(), gvisor.dispose(), pool.drain()]);
  }
  const stats = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stat(v)]));
  const dockerRunP50 = stats["docker run --rm"]!.p50;
  const rows = Object.entries(stats).map(([k, s]) => [
    k,
    s.p50.toFixed(1),
    s.p95.toFixed(1),
    `${(s.p50 / o.spawnP50).toFixed(s.p50 / o.spawnP50 < 10 ? 2 : 0)}×`,
    `${(s.p50 / dockerRunP50).toFixed(2)}×`,
  ]);
  const speedup = dockerRunP50 / o.bubblewrapP50;
  return {
    tables: [
      {
        title: `Docker and gVisor, ms (n = ${o.n} each; the rein-sandbox:1 image, network none)`,
        header: ["subject", "p50", "p95", "×spawn", "×docker run"],
        rows,
        notes: [
          "cold start = new sandbox + container started + /bin/true + container removed; pool acquire = a started container from a full pool",
        ],
      },
      {
        title: "Docker targets",
        header: ["target", "figure", "verdict"],
        rows: [
          [
            "bubblewrap command start-up ≥ 25× faster than docker run --rm (p50)",
            `${speedup.toFixed(1)}× (${o.bubblewrapP50.toFixed(2)} vs ${dockerRunP50.toFixed(1)} ms)`,
            speedup >= 25 ? "MET" : "NOT MET",
          ],
        ],
      },
    ],
    json: { ...stats, bubblewrapVsDockerRun: speedup },
  };
}
