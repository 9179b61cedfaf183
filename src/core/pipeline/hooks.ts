import { checkBeforeToolCallAnswer, isNativePromise } from "../../protocol/answers.js";
import { errorMessage } from "../../protocol/errors.js";
import type { StageRecord } from "../../protocol/events.js";
import type { HookInputCall, HookToolCall } from "../../protocol/hooks.js";
import type { Tool } from "../../tools/tool.js";
import type { RunContext } from "../run-context.js";
import { deepFreeze } from "./freeze.js";

const NONE: StageRecord = Object.freeze({
  stage: "hooks",
  outcome: "skipped",
  by: "hooks",
  note: "no beforeToolCall hook",
});

export type HookResult =
  | { readonly ok: true; readonly requireApproval: boolean; readonly record: StageRecord }
  | { readonly ok: false; readonly reason: string; readonly record: StageRecord };

/** The user's `beforeToolCall` hook: it can deny or require approval, never loosen. A throwing hook denies. */
const NO_HOOK: HookResult = Object.freeze({ ok: true, requireApproval: false, record: NONE });

export function runBeforeToolCallHook(ctx: RunContext, call: HookToolCall): HookResult | Promise<HookResult> {
  const hook = ctx.deps.hooks.beforeToolCall;
  return hook ? runHook(ctx, call) : NO_HOOK;
}

function denied(reason: string): HookResult {
  return {
    ok: false,
    reason,
    record: { stage: "hooks", outcome: "deny", by: "hook:beforeToolCall", note: reason },
  };
}

async function runHook(ctx: RunContext, call: HookToolCall): Promise<HookResult> {
  let answer: unknown;
  try {
    answer = ctx.deps.hooks.beforeToolCall?.(call);
    if (isNativePromise(answer)) answer = await answer;
  } catch (err) {
    return denied(`beforeToolCall hook threw: ${errorMessage(err)} (fail closed)`);
  }
  const checked = checkBeforeToolCallAnswer(answer);
  if (!checked.ok) return denied(`beforeToolCall hook answered garbage: ${checked.problem} (fail closed)`);
  const value = checked.value;
  if (value && "deny" in value) return denied(value.deny);
  const requireApproval = value !== undefined;
  return {
    ok: true,
    requireApproval,
    record: { stage: "hooks", outcome: requireApproval ? "raise" : "pass", by: "hook:beforeToolCall" },
  };
}

export type Rewritten =
  | {
      readonly ok: true;
      readonly input: unknown;
      readonly rewritten: boolean;
      readonly record: StageRecord | null;
    }
  | { readonly ok: false; readonly reason: string; readonly record: StageRecord };

const KEEP = (input: unknown): Rewritten => ({ ok: true, input, rewritten: false, record: null });

/**
 * `rewriteToolInput`, before classification: a new input is validated against the tool's schema
 * again and frozen, so the policy, the gate and the tool all judge and run the same arguments.
 */
export function rewriteInput(
  ctx: RunContext,
  tool: Tool,
  call: HookInputCall,
): Rewritten | Promise<Rewritten> {
  const hook = ctx.deps.hooks.rewriteToolInput;
  if (!hook) return KEEP(call.input);
  return runRewrite(hook, tool, call);
}

async function runRewrite(
  hook: NonNullable<RunContext["deps"]["hooks"]["rewriteToolInput"]>,
  tool: Tool,
  call: HookInputCall,
): Promise<Rewritten> {
  const by = "hook:rewriteToolInput";
  const deny = (reason: string): Rewritten => ({
    ok: false,
    reason,
    record: { stage: "hooks", outcome: "deny", by, note: reason },
  });
  let answer: unknown;
  try {
    answer = hook(call);
    if (isNativePromise(answer)) answer = await answer;
  } catch (err) {
    return deny(`rewriteToolInput hook threw: ${errorMessage(err)} (fail closed)`);
  }
  if (answer === undefined || answer === call.input) return KEEP(call.input);
  const parsed = tool.parse(answer);
  if (!parsed.ok)
    return deny(`rewriteToolInput produced invalid input for "${tool.name}": ${parsed.message}`);
  return {
    ok: true,
    input: deepFreeze(parsed.value),
    rewritten: true,
    record: { stage: "hooks", outcome: "pass", by, note: "input rewritten before classification" },
  };
}
