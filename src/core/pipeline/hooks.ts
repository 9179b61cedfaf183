import { errorMessage } from "../errors.js";
import type { StageRecord } from "../events.js";
import type { BeforeToolCallAnswer, HookToolCall } from "../hooks.js";
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
export async function runBeforeToolCallHook(ctx: RunContext, call: HookToolCall): Promise<HookResult> {
  const hook = ctx.deps.hooks.beforeToolCall;
  if (!hook) return { ok: true, requireApproval: false, record: NONE };
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
