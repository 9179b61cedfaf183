import { z } from "zod";
import { defineTool, GatewayState, gateway, type Model, ProviderCallError } from "../../src/index.js";
import { fakeClock } from "../models/loopback/fake-clock.js";

/** A HIGH-risk tool (so a gate is asked), taking a token the tests register as a known secret. */
export const deployTool = defineTool({
  name: "deploy",
  description: "Deploys",
  input: z.object({ target: z.string(), token: z.string() }),
  risk: { level: "HIGH", reason: "changes production" },
  execute: ({ target }) => `deployed ${target} ${"x".repeat(300)}`,
});

/**
 * A gateway whose primary fails with a 429 twice (one retry, then the fallback) and whose fallback
 * answers: one `model_retry` and one `model_fallback` event, from the real gateway.
 */
export function retryingThenFallingBack(): Model {
  const id = "anthropic:claude-opus-4-1";
  const answers: unknown[] = [
    new ProviderCallError(id, { failure: "http", status: 429, message: "HTTP 429" }),
    new ProviderCallError(id, { failure: "http", status: 429, message: "HTTP 429" }),
  ];
  const primary: Model = {
    id,
    async generate() {
      throw answers.shift() ?? new Error("no answer queued");
    },
  };
  const cheap: Model = {
    id: "openai:gpt-4.1-mini",
    async generate() {
      return {
        content: [{ type: "text", text: "from the fallback" }],
        stopReason: "end_turn",
        usage: { inputTokens: 100, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 0 },
        model: "openai:gpt-4.1-mini",
      };
    },
  };
  return gateway({
    models: [primary, cheap],
    clock: fakeClock(),
    state: new GatewayState(),
    retry: { maxRetries: 1 },
    random: () => 0,
  });
}

/** One sample of a Prometheus exposition text, or undefined. Labels must match exactly those given. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[k!] = v!;
    const want = Object.entries(labels);
    if (want.length === Object.keys(got).length && want.every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}
