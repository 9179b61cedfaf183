/**
 * What the state benchmarks share: the percentile they report, the event they append, and the loop
 * they run on a store (a model answering from a counter, so the loop, not the model, is measured).
 */
import type { HarnessConfig, Model } from "../../dist/index.js";
import * as rein from "../../dist/index.js";

/** The p-th percentile of an ascending array (0 when empty). */
export function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

/** A `tool_call_finished` event of the size a no-op step appends. */
export function benchEvent(sessionId: string, seq: number) {
  return {
    v: 1,
    seq,
    sessionId,
    tenantId: "bench",
    runId: "run_bench",
    ts: Date.now(),
    type: "tool_call_finished",
    data: {
      turn: seq,
      callId: `c${seq}`,
      tool: "noop",
      executed: true,
      ok: true,
      errorType: null,
      content: "ok",
      truncated: false,
      durationMs: 0.1,
      stages: [],
    },
  } as never;
}

/** Answers from a counter (O(1) per call: the loop, not the model, is measured); stamps each call. */
function noopModel(calls: number, stamps: number[]): Model {
  let n = 0;
  return {
    id: "bench:model",
    async generate() {
      stamps.push(performance.now());
      const turn = n++;
      const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };
      if (turn >= calls)
        return {
          content: [{ type: "text", text: "done" }],
          stopReason: "end_turn",
          usage,
          model: "bench:model",
        };
      return {
        content: [{ type: "tool_use", id: `c${turn}`, name: "noop", input: {} }],
        stopReason: "tool_use",
        usage,
        model: "bench:model",
      };
    },
  };
}

/**
 * One run of `calls` no-op tool calls on `store` (the in-memory log when undefined): its total ms and
 * the ms of each step (model call to model call). Throws when the run stops before its last call.
 */
export async function storeLoop(
  calls: number,
  store: HarnessConfig["store"] | undefined,
): Promise<{ ms: number; steps: number[] }> {
  const { z } = await import("zod");
  const tool = rein.defineTool({
    name: "noop",
    description: "no-op",
    input: z.object({}),
    risk: { level: "LOW", reason: "none" },
    execute: async () => "ok",
  });
  const stamps: number[] = [];
  const harness = rein.createHarness({
    model: noopModel(calls, stamps),
    tools: [tool],
    builtinTools: false,
    audit: false,
    limits: { maxTurns: calls + 10 },
    pricing: { overrides: { "bench:model": { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 } } },
    ...(store ? { store } : {}),
  });
  const t = performance.now();
  const session = harness.session();
  const result = await session.run("go");
  await session.close();
  const ms = performance.now() - t;
  if (result.stopReason.type !== "completed" || result.usage.outputTokens !== calls + 1)
    throw new Error(`state bench: the loop stopped early (${JSON.stringify(result.stopReason)})`);
  return { ms, steps: stamps.slice(1).map((x, i) => x - (stamps[i] ?? x)) };
}
