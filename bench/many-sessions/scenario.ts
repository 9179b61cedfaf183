/**
 * The many-sessions scenario's harness, shared by its two children (`child.ts`: the sessions run at
 * once; `idle-child.ts`: the sessions brought to idle in small batches): the CLI defaults with the
 * audit trail on, a tool that writes nothing and can change something (so each call gets an intent
 * record), and a model that waits `modelMs` per call, `calls` tool calls then a final answer.
 */
import { join } from "node:path";
import { z } from "zod";
import { createHarness, defineTool, type Harness, scriptedModel } from "../../dist/index.js";

export const actTool = defineTool({
  name: "act",
  description: "Acts (changes nothing here, but is not declared read-only).",
  input: z.object({}),
  risk: { level: "LOW", reason: "bench" },
  execute: async () => "ok",
});

/** A harness whose sessions each make `calls` tool calls with a model that waits `modelMs` per call. */
export function scenarioHarness(workdir: string, calls: number, modelMs: number, name = "many"): Harness {
  const wait = modelMs > 0 ? { delay_ms: modelMs } : {};
  return createHarness({
    model: scriptedModel({
      name,
      turns: [
        { tool_calls: [{ tool: "act", input: {} }], ...wait, repeat: calls },
        { say: "done", ...wait },
      ],
    }),
    tools: [actTool],
    audit: { dir: join(workdir, "audit") },
    limits: { maxTurns: calls + 1 },
  });
}
