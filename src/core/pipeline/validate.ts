import type { StageRecord } from "../../protocol/events.js";
import type { ToolUseBlock } from "../../protocol/messages.js";
import { capText, errorOutcome, type ToolOutcome } from "../../protocol/tool-result.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";
import { deepFreeze } from "./freeze.js";

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
        `There is no tool named ${echoName(call.name)}. Available tools: ${known.length ? known.join(", ") : "(none)"}.`,
      ),
      record: { stage: "validate", outcome: "deny", by: "tool-router", note: "unknown tool" },
    };
  }
  const parsed = tool.parse(call.input);
  if (!parsed.ok) {
    return {
      ok: false,
      outcome: errorOutcome(
        "invalid_input",
        `Invalid input for tool "${tool.name}": ${capText(parsed.message, MAX_ISSUES_CHARS)}`,
        { issues: parsed.issues.slice(0, MAX_ISSUES) },
      ),
      record: {
        stage: "validate",
        outcome: "deny",
        by: "tool-schema",
        note: capText(parsed.message, MAX_ISSUES_CHARS),
      },
    };
  }
  // Frozen from here on: what the policy judges and the gate approves is what the tool receives.
  return { ok: true, tool, input: deepFreeze(parsed.value), record: PASS };
}

/** A model can send any name; echo at most this much of it back (JSON-quoted, so no control characters). */
const MAX_NAME_ECHO = 64;
const MAX_ISSUES = 20;
const MAX_ISSUES_CHARS = 2_000;

function echoName(name: unknown): string {
  const text = typeof name === "string" ? name : String(name);
  return JSON.stringify(text.length > MAX_NAME_ECHO ? `${text.slice(0, MAX_NAME_ECHO)}…` : text);
}
