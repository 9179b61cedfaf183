import type { StageRecord } from "../../protocol/events.js";
import type { ToolUseBlock } from "../../protocol/messages.js";
import { errorOutcome, type ToolOutcome } from "../../protocol/tool-result.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";

export type Validated =
  | { readonly ok: true; readonly tool: Tool; readonly input: unknown; readonly record: StageRecord }
  | { readonly ok: false; readonly outcome: ToolOutcome; readonly record: StageRecord };

const PASS: StageRecord = Object.freeze({ stage: "validate", outcome: "pass", by: "tool-schema" });

/** Stage 1: the tool exists and the input matches its schema. Failures go back to the model; the loop continues. */
export function validateCall(ctx: RunContext, call: ToolUseBlock): Validated {
  const tool = ctx.deps.tools.get(call.name);
  if (!tool) {
    const known = ctx.deps.tools.names();
    return {
      ok: false,
      outcome: errorOutcome(
        "unknown_tool",
        `There is no tool named "${call.name}". Available tools: ${known.length ? known.join(", ") : "(none)"}.`,
      ),
      record: { stage: "validate", outcome: "deny", by: "tool-router", note: "unknown tool" },
    };
  }
  const parsed = tool.parse(call.input);
  if (!parsed.ok) {
    return {
      ok: false,
      outcome: errorOutcome("invalid_input", `Invalid input for tool "${tool.name}": ${parsed.message}`, {
        issues: parsed.issues,
      }),
      record: { stage: "validate", outcome: "deny", by: "tool-schema", note: parsed.message },
    };
  }
  return { ok: true, tool, input: parsed.value, record: PASS };
}
