/**
 * One measurement of the hardening-cost benchmark, in a fresh process:
 * `fork("child.ts", [distDir, calls, audit ("on" | "off"), workdir, shape ("one" | "two-1k")])`.
 * Runs `session.run()` with a scripted model making one tool call per turn (or two with ~1 KB
 * results) and reports the process CPU time (user + system, every thread) around the run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export interface HardeningChildReport {
  readonly cpuUs: number;
  readonly wallMs: number;
  readonly toolCalls: number;
}

const [distDir, callsArg, audit, workdir, shape] = process.argv.slice(2);
if (!distDir || !callsArg || (audit !== "on" && audit !== "off") || !workdir || !shape)
  throw new Error("usage: child.ts <distDir> <calls> <on|off> <workdir> <one|two-1k>");
if (!process.send) throw new Error("child.ts reports over IPC: start it with child_process.fork");

const rein = await import(pathToFileURL(join(distDir, "index.js")).href);
const { z } = await import("zod");
const calls = Number(callsArg);
const perTurn = shape === "two-1k" ? 2 : 1;
const result = shape === "two-1k" ? "x".repeat(1024) : "ok";
const tool = rein.defineTool({
  name: "noop",
  description: "Does nothing.",
  input: z.object({}),
  risk: { level: "LOW", reason: "does nothing" },
  execute: async () => result,
});
const dir = mkdtempSync(join(workdir, "run-"));
async function once(n: number) {
  const h = rein.createHarness({
    model: rein.scriptedModel({
      name: "bench",
      turns: [
        {
          tool_calls: Array.from({ length: perTurn }, () => ({ tool: "noop", input: {} })),
          repeat: n / perTurn,
        },
        { say: "done" },
      ],
    }),
    tools: [tool],
    audit: audit === "on" ? { dir: join(dir, "audit") } : false,
    limits: { maxTurns: n / perTurn + 1 },
  });
  const session = h.session();
  const r = await session.run("go");
  await session.close();
  if (r.status !== "completed" || r.toolCalls !== n)
    throw new Error(`run ended ${r.status} after ${r.toolCalls}`);
  return r;
}
await once(200); // warm-up: JIT and module caches, as in the original measurement
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const r = await once(calls);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
rmSync(dir, { recursive: true, force: true });
const report: HardeningChildReport = { cpuUs: cpu.user + cpu.system, wallMs, toolCalls: r.toolCalls };
process.send(report, () => process.disconnect());
