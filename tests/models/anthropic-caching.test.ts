import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AnthropicModel } from "../../src/models/providers/anthropic/anthropic-model.js";
import { type ProviderServer, startProviderServer } from "./loopback/provider-server.js";
import { harnessOn } from "./provider-contract.js";

type Block = { type: string; cache_control?: unknown };
const breakpoints = (body: Record<string, unknown>) => ({
  system: Array.isArray(body.system as Block[] | string | undefined)
    ? (body.system as Block[]).map((b) => b.cache_control ?? null)
    : null,
  tools: (body.tools as Block[]).map((t) => t.cache_control ?? null),
  messages: (body.messages as { content: Block[] }[]).flatMap((m, i) =>
    m.content.flatMap((b, j) => (b.cache_control ? [`${i}.${j}`] : [])),
  ),
});

describe("Anthropic prompt caching", () => {
  let server: ProviderServer;
  beforeEach(async () => {
    server = await startProviderServer("claude-sonnet-4-6-20260217");
  });
  afterEach(async () => {
    await server.close();
  });

  it("is on by default: breakpoints on the system prompt, the last tool and the conversation's last block, moved forward each turn", async () => {
    server.queue(
      {
        kind: "reply",
        toolCalls: [{ id: "t1", name: "echo", args: '{"text":"a"}' }],
        usage: { input: 10, output: 5, cacheWrite: 900 },
      },
      {
        kind: "reply",
        toolCalls: [{ id: "t2", name: "echo", args: '{"text":"b"}' }],
        usage: { input: 12, output: 5, cacheRead: 900, cacheWrite: 60 },
      },
      { kind: "reply", text: "done", usage: { input: 8, output: 3, cacheRead: 960 } },
    );
    const model = new AnthropicModel({
      model: "claude-sonnet-4-6",
      apiKey: "k",
      baseURL: server.url,
      env: {},
    });
    const { harness } = harnessOn([model]);
    const result = await harness.session().run("cache me");
    const eph = { type: "ephemeral" };
    expect(breakpoints(server.requests[0]!.body)).toEqual({ system: [eph], tools: [eph], messages: ["0.0"] });
    // One conversation breakpoint at a time (the API allows four in all), always on the newest block.
    expect(breakpoints(server.requests[1]!.body)).toEqual({ system: [eph], tools: [eph], messages: ["2.0"] });
    expect(breakpoints(server.requests[2]!.body)).toEqual({ system: [eph], tools: [eph], messages: ["4.0"] });
    // Cache reads and writes are counted and priced at the cache prices (Sonnet 4.6: 0.30 read, 3.75 write).
    expect(result.usage).toEqual({
      inputTokens: 30,
      outputTokens: 13,
      cacheReadTokens: 1860,
      cacheWriteTokens: 960,
    });
    expect(result.costUsd).toBeCloseTo((30 * 3 + 13 * 15 + 1860 * 0.3 + 960 * 3.75) / 1e6, 12);
    // Rein's own history carries no cache markers.
    expect(JSON.stringify(result.messages)).not.toContain("cache_control");
  });

  it("can be turned off", async () => {
    server.queue({ kind: "reply", text: "plain" });
    const model = new AnthropicModel({
      model: "claude-sonnet-4-6",
      apiKey: "k",
      baseURL: server.url,
      env: {},
      promptCaching: false,
    });
    await harnessOn([model]).harness.session().run("no cache");
    expect(JSON.stringify(server.requests[0]!.body)).not.toContain("cache_control");
    expect(server.requests[0]!.body.system).toBe("You are a test.");
  });
});
