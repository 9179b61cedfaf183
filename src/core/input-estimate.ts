import type { Message, Usage } from "../protocol/messages.js";
import { type SessionDeps, systemPrompt } from "./run-context.js";

/**
 * A running estimate of the next model call's input tokens, for the ledger's worst-case reservation,
 * kept in O(1) per step: the last call's real input and output (what the next request re-sends) plus
 * the text appended since, at a conservative 3 characters per token. The whole history is measured
 * once, the first time, only when a session starts from a given history.
 */
export interface InputEstimate {
  /** Tokens known from the last response (its input, cache and output), or of the starting history. */
  knownTokens: number;
  /** Characters appended since the last response. */
  pendingChars: number;
  measured: boolean;
}

const CHARS_PER_TOKEN = 3;
const fixedChars = new WeakMap<object, number>();

export function newInputEstimate(): InputEstimate {
  return { knownTokens: 0, pendingChars: 0, measured: false };
}

/** Estimated input tokens of the call about to be made. */
export function estimateInputTokens(deps: SessionDeps): number {
  const e = deps.inputEstimate;
  if (!e.measured) {
    e.measured = true;
    // Once per session: the system prompt, the tool specs and any history it started with.
    const specs = deps.tools.specs();
    let specChars = fixedChars.get(specs);
    if (specChars === undefined) {
      specChars = JSON.stringify(specs).length;
      fixedChars.set(specs, specChars);
    }
    const prior = deps.history.length > 0 ? JSON.stringify(deps.history).length : 0;
    e.pendingChars += specChars + (systemPrompt(deps)?.length ?? 0) + prior;
  }
  return e.knownTokens + Math.ceil(e.pendingChars / CHARS_PER_TOKEN);
}

/** After a response: the next request re-sends everything this one had, plus this one's output. */
export function settleInputEstimate(deps: SessionDeps, usage: Usage): void {
  const e = deps.inputEstimate;
  e.knownTokens = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens + usage.outputTokens;
  e.pendingChars = 0;
}

/** Text appended to the history since the last response (the task, tool results). */
export function addToInputEstimate(deps: SessionDeps, message: Message): void {
  let chars = 0;
  const content = message.content;
  for (let i = 0; i < content.length; i++) {
    const block = content[i]!;
    if (block.type === "text") chars += block.text.length;
    else if (block.type === "tool_result") chars += block.content.length + 64;
    else chars += 64;
  }
  deps.inputEstimate.pendingChars += chars;
}
