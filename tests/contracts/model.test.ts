import { type ModelContractReply, modelContract, scriptedModel } from "../../src/testing.js";

/** The contract's replies as a script: the scripted model plays them in order. */
function scriptOf(replies: readonly ModelContractReply[]): object {
  return {
    name: "contract",
    turns: replies.map((reply) =>
      reply.kind === "hang"
        ? // An hour: only the request's signal ends it (setTimeout's limit is about 24.8 days).
          { say: "never", delay_ms: 3_600_000 }
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

modelContract({ name: "ScriptedModel", create: (replies) => scriptedModel(scriptOf(replies)) });
