import { describe, expect, it } from "vitest";
import type { Message, ModelRequest } from "../../src/index.js";
import { CONTRACT_FACTORIES } from "./contract-factories.js";

const frozen = <T>(v: T): T => {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) frozen(x);
  }
  return v;
};

const request = (messages: readonly Message[], extra: Partial<ModelRequest> = {}): ModelRequest => ({
  system: "contract",
  messages,
  tools: [{ name: "lookup", description: "Looks up", inputSchema: { type: "object", properties: {} } }],
  maxTokens: 64,
  signal: new AbortController().signal,
  ...extra,
});

for (const f of CONTRACT_FACTORIES) {
  describe(`reply-driven factory: ${f.name}`, () => {
    it("answers each request with the scripted reply, on a frozen history, and rejects an aborted signal without using a reply", async () => {
      const model = await f.create([
        {
          kind: "answer",
          text: "Let me look.",
          toolCalls: [{ name: "lookup", input: { query: "rein", nested: { deep: [1, "two", null] } } }],
          usage: { inputTokens: 21, outputTokens: 13, cacheReadTokens: 5, cacheWriteTokens: 0 },
          stopReason: "tool_use",
        },
        { kind: "hang" },
      ]);
      try {
        const history: Message[] = [
          frozen<Message>({ role: "user", content: [{ type: "text", text: "Find rein." }] }),
        ];
        const aborted = new AbortController();
        aborted.abort(new Error("before"));
        await expect(model.generate(request(history, { signal: aborted.signal }))).rejects.toThrow("before");
        const deltas: string[] = [];
        const r = await model.generate(request(history, { onTextDelta: (d) => deltas.push(d) }));
        expect(deltas.join("")).toBe("Let me look.");
        expect(r.stopReason).toBe("tool_use");
        expect(r.usage).toEqual({
          inputTokens: 21,
          outputTokens: 13,
          cacheReadTokens: 5,
          cacheWriteTokens: 0,
        });
        expect(r.content[1]).toMatchObject({
          type: "tool_use",
          name: "lookup",
          input: { query: "rein", nested: { deep: [1, "two", null] } },
        });
        history.push(frozen<Message>({ role: "assistant", content: r.content }));
        const stop = new AbortController();
        const pending = model.generate(request(history, { signal: stop.signal }));
        stop.abort(new Error("user pressed stop"));
        await expect(pending).rejects.toThrow("user pressed stop");
      } finally {
        await f.dispose(model);
      }
    });
  });
}
