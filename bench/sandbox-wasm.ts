/**
 * The WebAssembly rows of `npm run bench -- sandbox`: QuickJS warm runs, Pyodide cold start, pooled
 * acquire and warm run, each against `spawn /bin/true` measured in the same run. Target: a pooled
 * Pyodide acquire ≤ 5 ms (p50).
 */
import { getQuickJS } from "quickjs-emscripten";
import { PyodideSandbox, QuickJSSandbox } from "../dist/wasm.js";
import type { Table } from "./lib/bench.ts";

export interface WasmFigures {
  readonly tables: Table[];
  readonly json: Record<string, unknown>;
}

function stat(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return { p50: at(0.5), p95: at(0.95), n: s.length };
}

async function time(n: number, body: () => Promise<void>, between?: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await body();
    out.push(performance.now() - t);
    await between?.();
  }
  return out;
}

/** `spawnP50` is `spawn /bin/true`'s p50 from the same run, for the ratio column. */
export async function wasmFigures(o: {
  quick: boolean;
  workspace: string;
  spawnP50: number;
  log: (m: string) => void;
}): Promise<WasmFigures> {
  const n = o.quick ? 20 : 200;
  const pyN = o.quick ? 3 : 10;
  const rows: { name: string; samples: number[]; what: string }[] = [];

  // QuickJS: evalCode in one live context (what "QuickJS warm eval" usually means) ...
  const qjs = await getQuickJS();
  const ctx = qjs.newContext();
  for (let i = 0; i < 100; i++) ctx.evalCode("1 + 1").dispose();
  rows.push({
    name: "QuickJS evalCode, live context",
    samples: await time(n * 10, async () => ctx.evalCode("1 + 1").dispose()),
    what: "in-process, no isolation between runs: the floor",
  });
  ctx.dispose();
  // ... and what Rein runs: a fresh runtime and context per run, in the warm worker thread.
  const js = new QuickJSSandbox({ workspace: o.workspace });
  try {
    for (let i = 0; i < 10; i++) await js.runCode("javascript", "1 + 1");
    rows.push({
      name: "QuickJSSandbox runCode, warm worker",
      samples: await time(n, async () => {
        const r = await js.runCode("javascript", "1 + 1");
        if (r.exitCode !== 0) throw new Error(r.stderr);
      }),
      what: "fresh runtime + context, limits, watchdog, worker round trip",
    });
  } finally {
    await js.dispose();
  }

  o.log("  pyodide: cold starts");
  const cold = new PyodideSandbox({ workspace: o.workspace });
  const pooled = new PyodideSandbox({ workspace: o.workspace, poolSize: 1 });
  try {
    rows.push({
      name: "Pyodide cold start + print(1)",
      samples: await time(pyN, async () => {
        const r = await cold.runCode("python", "print(1)");
        if (r.stdout !== "1\n") throw new Error(r.stderr);
      }),
      what: "bwrap + node + loadPyodide + run, no pool",
    });
    o.log("  pyodide: pooled acquire");
    await pooled.warm();
    rows.push({
      name: "Pyodide pooled acquire",
      samples: await time(
        pyN * 2,
        async () => {
          const interpreter = await pooled.pool.acquire();
          interpreter.kill.abort();
        },
        () => pooled.pool.fill(),
      ),
      what: "a warm interpreter out of the pool (workspace mask re-check included)",
    });
    o.log("  pyodide: warm runs");
    rows.push({
      name: "Pyodide warm run print(1)",
      samples: await time(
        pyN,
        async () => {
          const r = await pooled.runCode("python", "print(1)");
          if (r.stdout !== "1\n") throw new Error(r.stderr);
        },
        () => pooled.pool.fill(),
      ),
      what: "acquire + run + the interpreter's process exits",
    });
  } finally {
    await Promise.all([cold.dispose(), pooled.dispose()]);
  }

  const json: Record<string, unknown> = {};
  const tableRows = rows.map((r) => {
    const st = stat(r.samples);
    json[r.name] = st;
    const fmt = (x: number) => (x < 0.1 ? x.toFixed(4) : x < 10 ? x.toFixed(2) : x.toFixed(0));
    return [r.name, fmt(st.p50), fmt(st.p95), `${(st.p50 / o.spawnP50).toFixed(3)}×`, String(st.n), r.what];
  });
  const acquire = json["Pyodide pooled acquire"] as { p50: number };
  return {
    tables: [
      {
        title: "WebAssembly sandboxes, ms (same run)",
        header: ["subject", "p50", "p95", "×spawn /bin/true", "n", "what"],
        rows: tableRows,
      },
      {
        title: "WebAssembly targets",
        header: ["target", "figure", "verdict"],
        rows: [
          [
            "pooled Pyodide acquire p50 ≤ 5 ms",
            `${acquire.p50.toFixed(2)} ms`,
            acquire.p50 <= 5 ? "MET" : "NOT MET",
          ],
        ],
      },
    ],
    json,
  };
}
