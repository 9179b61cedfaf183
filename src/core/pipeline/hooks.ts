import { errorMessage } from "../../protocol/errors.js";
import type { StageRecord } from "../../protocol/events.js";
import type { BeforeToolCallAnswer, HookToolCall } from "../../protocol/hooks.js";
import type { RunContext } from "../run-context.js";

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
  return hook ? runHook(hook, call) : NO_HOOK;
}

async function runHook(
  hook: NonNullable<RunContext["deps"]["hooks"]["beforeToolCall"]>,
  call: HookToolCall,
): Promise<HookResult> {
  let answer: BeforeToolCallAnswer;
  try {
    answer = await hook(call);
  } catch (err) {
    const reason = `beforeToolCall hook threw: ${errorMessage(err)} (fail closed)`;
    return {
      ok: false,
      reason,
      record: { stage: "hooks", outcome: "deny", by: "hook:beforeToolCall", note: reason },
    };
  }
  if (answer && "deny" in answer) {
    return {
      ok: false,
      reason: answer.deny,
      record: { stage: "hooks", outcome: "deny", by: "hook:beforeToolCall", note: answer.deny },
    };
  }
  const requireApproval = Boolean(answer && "requireApproval" in answer && answer.requireApproval);
  return {
    ok: true,
    requireApproval,
    record: { stage: "hooks", outcome: requireApproval ? "raise" : "pass", by: "hook:beforeToolCall" },
  };
}
