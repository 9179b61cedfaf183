// The crash test's child: runs one session on the Redis store whose tool (not idempotent) appends a
// line, says "appended" and then never returns, so the parent can SIGKILL it after the call's
// tool_call_started is durable (the loop syncs it before the tool runs) and before its result is.
import { appendFileSync } from "node:fs";
import { z } from "zod";
import { createHarness, defineTool, RedisStore } from "../../dist/index.js";

const [url, prefix, out] = process.argv.slice(2);
const store = await RedisStore.open(url, { prefix });
const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 };
const harness = createHarness({
  model: {
    id: "test:model",
    async generate(req) {
      const turns = req.messages.filter((m) => m.role === "assistant").length;
      if (turns === 0)
        return {
          content: [{ type: "tool_use", id: "call_1", name: "append_line", input: { line: "once" } }],
          stopReason: "tool_use",
          usage,
          model: "test:model",
        };
      return {
        content: [{ type: "text", text: "done" }],
        stopReason: "end_turn",
        usage,
        model: "test:model",
      };
    },
  },
  tools: [
    defineTool({
      name: "append_line",
      description: "appends a line",
      input: z.object({ line: z.string() }),
      risk: { level: "LOW", reason: "appends to a test file" },
      idempotent: false,
      async execute({ line }) {
        appendFileSync(out, `${line}\n`);
        process.stdout.write("appended\n");
        return new Promise(() => {}); // killed here
      },
    }),
  ],
  builtinTools: false,
  audit: false,
  pricing: { overrides: { "test:model": { input: 1, output: 2, cacheRead: 0, cacheWrite: 0 } } },
  store,
});
await harness.session({ id: "ses_crash" }).run("append once");
