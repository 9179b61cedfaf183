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

/**
 * Where the scenario's audit trail goes (`MANY_SESSIONS_AUDIT`, the bench's `--audit`): `file` (the
 * CLI default, one JSONL file per session under the work folder), `memory` (the same records, kept in
 * memory) or `off` (none): comparing them measures what the trail costs.
 */
export type ScenarioAudit = "file" | "memory" | "off";

/** The scenario's audit kind from the environment (default `file`). */
export function scenarioAudit(): ScenarioAudit {
  const kind = process.env.MANY_SESSIONS_AUDIT ?? "file";
  if (kind !== "file" && kind !== "memory" && kind !== "off")
    throw new Error(`MANY_SESSIONS_AUDIT must be file, memory or off, got ${kind}`);
  return kind;
}

/** A harness whose sessions each make `calls` tool calls with a model that waits `modelMs` per call. */
export function scenarioHarness(
  workdir: string,
  calls: number,
  modelMs: number,
  name = "many",
  audit: ScenarioAudit = scenarioAudit(),
): Harness {
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
    audit: audit === "file" ? { dir: join(workdir, "audit") } : audit === "memory" ? "memory" : false,
    limits: { maxTurns: calls + 1 },
  });
}
