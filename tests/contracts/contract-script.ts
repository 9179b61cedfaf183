import type { ModelContractReply } from "../../src/testing.js";

/**
 * The model contract's replies as a scripted-model script, one turn per reply. A `hang` reply is a
 * turn delayed by an hour that only the request's signal ends (setTimeout's limit is ~24.8 days);
 * with `hang: "answer"` it is answered at once instead (for a broken model that would never end).
 */
export function contractScript(
  replies: readonly ModelContractReply[],
  hang: "delay" | "answer" = "delay",
): { name: string; turns: object[] } {
  return {
    name: "contract",
    turns: replies.map((reply) =>
      reply.kind === "hang"
        ? hang === "delay"
          ? { say: "never", delay_ms: 3_600_000 }
          : { say: "never" }
        : {
            ...(reply.text === undefined ? {} : { say: reply.text }),
            ...(reply.toolCalls
              ? { tool_calls: reply.toolCalls.map((c) => ({ tool: c.name, input: c.input })) }
              : {}),
            usage: {
              input_tokens: reply.usage.inputTokens,
              output_tokens: reply.usage.outputTokens,
              cache_read_tokens: reply.usage.cacheReadTokens,
              cache_write_tokens: reply.usage.cacheWriteTokens,
            },
            stop_reason: reply.stopReason,
          },
    ),
  };
}
