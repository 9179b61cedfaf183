import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openaiCompatibleModel } from "../../src/models/providers/openai-compatible/openai-compatible-model.js";
import { type ProviderServer, startProviderServer } from "./loopback/provider-server.js";
import { harnessOn, toolCallIdsIn, toolResultsIn } from "./provider-contract.js";

describe("openai-compatible servers and their quirks", () => {
  let server: ProviderServer;
  beforeEach(async () => {
    server = await startProviderServer("qwen2.5-coder");
  });
  afterEach(async () => {
    await server.close();
  });
  const model = (stream = true) =>
    openaiCompatibleModel({ model: "qwen2.5-coder", baseURL: `${server.url}/v1`, stream });

  it("asks for usage in the stream (stream_options.include_usage) and counts it", async () => {
    server.queue({ kind: "reply", text: "hi", usage: { input: 40, output: 7, cacheRead: 10 } });
    const { harness } = harnessOn([model()]);
    const result = await harness.session().run("hello");
    expect(server.requests[0]!.body.stream_options).toEqual({ include_usage: true });
    // The older parameter name, which every compatible server knows.
    expect(server.requests[0]!.body.max_tokens).toBe(4096);
    expect(server.requests[0]!.body.max_completion_tokens).toBeUndefined();
    expect(result.usage).toEqual({
      inputTokens: 40,
      outputTokens: 7,
      cacheReadTokens: 10,
      cacheWriteTokens: 0,
    });
  });

  it("completes when the server sends no usage even when asked (zeros, priced by the book)", async () => {
    server.queue({ kind: "reply", text: "no usage here", quirks: { noUsage: true } });
    const { harness } = harnessOn([model()]);
    const result = await harness.session().run("hello");
    expect(result.stopReason).toEqual({ type: "completed" });
    expect(result.usage).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });

  it("gives tool calls without ids unique ids, and answers each under its id", async () => {
    server.queue(
      {
        kind: "reply",
        toolCalls: [
          { name: "echo", args: '{"text":"a"}' },
          { name: "echo", args: '{"text":"b"}' },
        ],
      },
      { kind: "reply", text: "done" },
    );
    const { harness } = harnessOn([model()]);
    const result = await harness.session().run("two calls");
    expect(result.stopReason).toEqual({ type: "completed" });
    const ids = toolCallIdsIn("chat", server.requests[1]!.body);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(ids.every((id) => /^call_[0-9a-f]{24}$/.test(id))).toBe(true);
    expect(toolResultsIn("chat", server.requests[1]!.body)).toEqual([
      [ids[0], "echo: a"],
      [ids[1], "echo: b"],
    ]);
  });

  it("renames an id the server repeats (call_0 every turn, twice in one turn) so every id is unique in the conversation", async () => {
    server.queue(
      {
        kind: "reply",
        toolCalls: [
          { id: "call_0", name: "echo", args: '{"text":"a"}' },
          { id: "call_0", name: "echo", args: '{"text":"b"}' },
        ],
      },
      { kind: "reply", toolCalls: [{ id: "call_0", name: "echo", args: '{"text":"c"}' }] },
      { kind: "reply", text: "done" },
    );
    const { harness } = harnessOn([model()]);
    const result = await harness.session().run("repeat ids");
    expect(result.stopReason).toEqual({ type: "completed" });
    const ids = toolCallIdsIn("chat", server.requests[2]!.body);
    expect(ids).toEqual(["call_0", "call_0_2", "call_0_3"]);
    expect(toolResultsIn("chat", server.requests[2]!.body).map(([id]) => id)).toEqual(ids);
  });

  it("reads tool calls streamed without an index (each call whole, then its argument pieces)", async () => {
    server.queue(
      {
        kind: "reply",
        toolCalls: [
          { id: "t1", name: "echo", args: '{"text":"x"}' },
          { id: "t2", name: "echo", args: '{"text":"y"}' },
        ],
        quirks: { noIndex: true },
      },
      { kind: "reply", text: "ok" },
    );
    const { harness } = harnessOn([model()]);
    await harness.session().run("no index");
    expect(toolResultsIn("chat", server.requests[1]!.body)).toEqual([
      ["t1", "echo: x"],
      ["t2", "echo: y"],
    ]);
  });

  for (const stream of [true, false]) {
    it(`answers arguments that are not JSON with invalid_input and the run goes on (${stream ? "SSE" : "JSON"})`, async () => {
      server.queue(
        { kind: "reply", toolCalls: [{ id: "bad1", name: "echo", args: "{text: 'unquoted'" }] },
        { kind: "reply", text: "sorry, fixed" },
      );
      const { harness, sink } = harnessOn([model(stream)]);
      const result = await harness.session().run("broken args");
      expect(result.stopReason).toEqual({ type: "completed" });
      const finished = sink.ofType("tool_call_finished")[0]!.data;
      expect(finished.executed).toBe(false);
      expect(finished.errorType).toBe("invalid_input");
      const [[id, content]] = toolResultsIn("chat", server.requests[1]!.body) as [[string, string]];
      expect(id).toBe("bad1");
      expect(JSON.parse(content).error.type).toBe("invalid_input");
      // The raw arguments go back exactly as the server sent them.
      expect(JSON.stringify(server.requests[1]!.body)).toContain(JSON.stringify("{text: 'unquoted'"));
    });
  }

  it("needs a base URL: the error names --base-url and the config field", () => {
    expect(() => openaiCompatibleModel({ model: "llama3", baseURL: "" })).toThrow(
      /--base-url.*providers\.openai-compatible\.baseUrl/,
    );
  });
});
