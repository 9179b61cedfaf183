/**
 * The contract every provider passes, against its real wire protocol on a loopback server, through the
 * official SDK and the gateway. `providerContract(spec)` registers the suite for one provider.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createHarness, defineTool, type Model, type Tool } from "../../src/index.js";
import type { BreakerOptions } from "../../src/models/gateway/circuit-breaker.js";
import { GatewayState, gateway } from "../../src/models/gateway/gateway.js";
import type { RetryOptions } from "../../src/models/gateway/retry.js";
import { AnthropicModel } from "../../src/models/providers/anthropic/anthropic-model.js";
import { recordingSink } from "../../src/testing.js";
import { fakeClock } from "./loopback/fake-clock.js";
import { type Protocol, type ProviderServer, startProviderServer } from "./loopback/provider-server.js";

export interface ProviderSpec {
  readonly name: string;
  readonly protocol: Protocol;
  readonly stream: boolean;
  /** What the server answers as the model (a dated snapshot, as real providers do). */
  readonly servedModel: string;
  make(url: string): Model;
}

export const echoTool: Tool = defineTool({
  name: "echo",
  description: "Returns its text",
  input: z.object({ text: z.string() }),
  risk: { level: "LOW", reason: "pure" },
  readOnly: true,
  execute: ({ text }) => `echo: ${text}`,
});

export function harnessOn(
  models: Model[],
  options: {
    retry?: RetryOptions;
    breaker?: BreakerOptions;
    state?: GatewayState;
    modelCallTimeoutMs?: number;
  } = {},
) {
  const clock = fakeClock();
  const state = options.state ?? new GatewayState();
  const sink = recordingSink();
  const model = gateway({
    models,
    clock,
    state,
    random: () => 0.5,
    retry: options.retry ?? {},
    breaker: options.breaker ?? {},
  });
  const harness = createHarness({
    model,
    tools: [echoTool],
    audit: false,
    system: "You are a test.",
    sinks: [sink],
    // The contract compares the wire format with what the tool returned; spotlighting (on by default,
    // it wraps results and extends the system prompt) is tested in tests/security.
    security: { spotlight: false },
    limits: options.modelCallTimeoutMs ? { modelCallTimeoutMs: options.modelCallTimeoutMs } : {},
  });
  return { harness, sink, clock, state };
}

const toolCall = (id: string | undefined, text: string) => ({
  ...(id ? { id } : {}),
  name: "echo",
  args: JSON.stringify({ text }),
});

/** The tool results and tool calls a request carried, in the protocol's own shape, reduced to [id, content]. */
export function toolResultsIn(protocol: Protocol, body: Record<string, unknown>): [string, string][] {
  if (protocol === "anthropic")
    return (body.messages as { content: { type: string; tool_use_id?: string; content?: string }[] }[])
      .flatMap((m) => m.content)
      .filter((b) => b.type === "tool_result")
      .map((b) => [b.tool_use_id as string, b.content as string]);
  if (protocol === "responses")
    return (body.input as { type: string; call_id?: string; output?: string }[])
      .filter((i) => i.type === "function_call_output")
      .map((i) => [i.call_id as string, i.output as string]);
  return (body.messages as { role: string; tool_call_id?: string; content?: string }[])
    .filter((m) => m.role === "tool")
    .map((m) => [m.tool_call_id as string, m.content as string]);
}

export function toolCallIdsIn(protocol: Protocol, body: Record<string, unknown>): string[] {
  if (protocol === "anthropic")
    return (body.messages as { content: { type: string; id?: string }[] }[])
      .flatMap((m) => m.content)
      .filter((b) => b.type === "tool_use")
      .map((b) => b.id as string);
  if (protocol === "responses")
    return (body.input as { type: string; call_id?: string }[])
      .filter((i) => i.type === "function_call")
      .map((i) => i.call_id as string);
  return (body.messages as { role: string; tool_calls?: { id: string }[] }[]).flatMap((m) =>
    (m.tool_calls ?? []).map((c) => c.id),
  );
}

export function providerContract(spec: ProviderSpec, partner: { spec: ProviderSpec }): void {
  describe(`provider contract: ${spec.name}`, () => {
    let server: ProviderServer;
    let model: Model;
    beforeEach(async () => {
      server = await startProviderServer(spec.servedModel);
      model = spec.make(server.url);
    });
    afterEach(async () => {
      await server.close();
    });
    const scope = (sessionId: string) => ({ tenantId: "local", sessionId });

    it("round-trips a tool call: the result goes back under the call's id, the run completes", async () => {
      server.queue(
        {
          kind: "reply",
          text: "Let me echo.",
          toolCalls: [toolCall("call_a1", "hi")],
          usage: { input: 120, output: 30 },
        },
        { kind: "reply", text: "Done: echo: hi", usage: { input: 200, output: 10 } },
      );
      const { harness, sink } = harnessOn([model]);
      const session = harness.session();
      const result = await session.run("echo hi");
      expect(result.stopReason).toEqual({ type: "completed" });
      expect(result.finalText).toBe("Done: echo: hi");
      expect(server.requests).toHaveLength(2);
      expect(toolResultsIn(spec.protocol, server.requests[1]!.body)).toEqual([["call_a1", "echo: hi"]]);
      expect(toolCallIdsIn(spec.protocol, server.requests[1]!.body)).toEqual(["call_a1"]);
      // Usage is Rein's (cache reads apart), priced by the dated snapshot's alias, settled in the ledger.
      expect(result.usage).toEqual({
        inputTokens: 320,
        outputTokens: 40,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      });
      const finished = sink.ofType("model_call_finished");
      expect(finished[0]!.data.model).toBe(`${model.id.slice(0, model.id.indexOf(":"))}:${spec.servedModel}`);
      expect(harness.ledger.totals(scope(session.id))).toMatchObject({ reservedUsd: 0, calls: 2 });
      expect(result.costUsd).toBeCloseTo(
        finished.reduce((s, e) => s + e.data.costUsd, 0),
        12,
      );
    });

    it("sends several tool calls of one turn back as results in the same order", async () => {
      server.queue(
        { kind: "reply", toolCalls: [toolCall("c1", "one"), toolCall("c2", "two"), toolCall("c3", "three")] },
        { kind: "reply", text: "ok" },
      );
      const { harness } = harnessOn([model]);
      const result = await harness.session().run("three echoes");
      expect(result.stopReason).toEqual({ type: "completed" });
      expect(result.toolCalls).toBe(3);
      expect(toolResultsIn(spec.protocol, server.requests[1]!.body)).toEqual([
        ["c1", "echo: one"],
        ["c2", "echo: two"],
        ["c3", "echo: three"],
      ]);
    });

    it(
      spec.stream ? "streams text as deltas that add up to the answer" : "answers JSON without deltas",
      async () => {
        const text = "The quick brown fox jumps over the lazy dog.";
        server.queue({ kind: "reply", text });
        const { harness, sink } = harnessOn([model]);
        const result = await harness.session().run("say it");
        const deltas = sink.ofType("text_delta").map((e) => e.data.delta);
        expect(result.finalText).toBe(text);
        expect(server.requests[0]!.body.stream).toBe(spec.stream);
        if (spec.stream) {
          expect(deltas.length).toBeGreaterThan(5);
          expect(deltas.join("")).toBe(text);
        } else expect(deltas).toEqual([]);
      },
    );

    it("waits out a 429's Retry-After, then succeeds; the failed attempt is released, not charged", async () => {
      server.queue(
        { kind: "error", status: 429, headers: { "retry-after": "2" } },
        { kind: "error", status: 429, headers: { "retry-after-ms": "1500" } },
        { kind: "reply", text: "finally" },
      );
      const { harness, sink, clock } = harnessOn([model]);
      const session = harness.session();
      const result = await session.run("go");
      expect(result.stopReason).toEqual({ type: "completed" });
      expect(clock.sleeps).toEqual([2000, 1500]);
      expect(
        sink
          .ofType("model_retry")
          .map((e) => [e.data.attempt, e.data.status, e.data.delayMs, e.data.retryAfter]),
      ).toEqual([
        [1, 429, 2000, true],
        [2, 429, 1500, true],
      ]);
      expect(harness.ledger.totals(scope(session.id))).toMatchObject({ reservedUsd: 0, calls: 1 });
    });

    it("retries a 500 with jittered backoff and a 529 overloaded, then succeeds", async () => {
      server.queue(
        { kind: "error", status: 500 },
        { kind: "error", status: 529 },
        { kind: "reply", text: "up" },
      );
      const { harness, sink, clock } = harnessOn([model], {
        retry: { baseDelayMs: 100, maxDelayMs: 10_000 },
      });
      const result = await harness.session().run("go");
      expect(result.finalText).toBe("up");
      // full jitter with random() = 0.5: half of 100·2^(attempt-1)
      expect(clock.sleeps).toEqual([50, 100]);
      expect(sink.ofType("model_retry").map((e) => e.data.status)).toEqual([500, 529]);
    });

    it("does not retry a 400: the request will not change", async () => {
      server.queue({ kind: "error", status: 400, message: "bad request body" });
      const { harness, sink } = harnessOn([model]);
      const result = await harness.session().run("go");
      expect(result.stopReason).toMatchObject({ type: "error", code: "REIN_MODEL_CALL_FAILED" });
      expect((result.stopReason as { message: string }).message).toContain("HTTP 400");
      expect(server.requests).toHaveLength(1);
      expect(sink.ofType("model_retry")).toEqual([]);
    });

    it("ends the run with a typed error on malformed JSON, without crashing or retrying", async () => {
      server.queue({ kind: "malformed" });
      const { harness, sink } = harnessOn([model]);
      const result = await harness.session().run("go");
      expect(result.stopReason).toMatchObject({ type: "error", code: "REIN_MODEL_CALL_FAILED" });
      expect(server.requests).toHaveLength(1);
      expect(sink.ofType("model_retry")).toEqual([]);
    });

    if (spec.stream) {
      it("fails a stream cut mid-message after text was delivered, and does not retry it", async () => {
        server.queue({ kind: "cut", text: "partial answer that never ends", how: "reset" });
        const { harness, sink } = harnessOn([model]);
        const result = await harness.session().run("go");
        expect(result.stopReason).toMatchObject({ type: "error", code: "REIN_MODEL_CALL_FAILED" });
        expect(sink.ofType("text_delta").length).toBeGreaterThan(0);
        expect(server.requests).toHaveLength(1);
        expect(sink.ofType("model_retry")).toEqual([]);
      });

      it("fails a stream that ends cleanly mid-message (no terminal event) instead of accepting half an answer", async () => {
        server.queue({ kind: "cut", how: "end" });
        const { harness } = harnessOn([model]);
        const result = await harness.session().run("go");
        expect(result.stopReason).toMatchObject({ type: "error", code: "REIN_MODEL_CALL_FAILED" });
        expect((result.stopReason as { message: string }).message).toMatch(/cut mid-message/);
      });

      it("retries a connection reset that came before any text", async () => {
        server.queue({ kind: "cut", how: "reset" }, { kind: "reply", text: "second try" });
        const { harness, sink } = harnessOn([model]);
        const result = await harness.session().run("go");
        expect(result.finalText).toBe("second try");
        expect(sink.ofType("model_retry").map((e) => e.data.status)).toEqual([null]);
      });

      it("cancels mid-stream: the run stops as cancelled and the connection is closed", async () => {
        server.queue({ kind: "hold", text: "streaming forever" });
        const { harness } = harnessOn([model]);
        const session = harness.session();
        const stream = session.stream("go");
        for await (const e of stream) if (e.type === "text_delta") session.cancel("user pressed stop");
        const result = await stream.result;
        expect(result.stopReason).toEqual({ type: "cancelled", reason: "user pressed stop" });
        expect(harness.ledger.totals(scope(session.id)).reservedUsd).toBe(0);
        // The server sees the client go away mid-answer (its close event arrives on the next turns of its loop).
        await vi.waitFor(() => expect(server.disconnects).toBe(1));
      });
    }

    it("stops a response slower than modelCallTimeoutMs with a model_call timeout", async () => {
      server.queue({ kind: "hang" });
      const { harness, sink } = harnessOn([model], { modelCallTimeoutMs: 150 });
      const result = await harness.session().run("go");
      expect(result.stopReason).toEqual({ type: "timeout", scope: "model_call", limitMs: 150 });
      expect(sink.ofType("model_retry")).toEqual([]);
    });

    it(`falls back to a second provider (${partner.spec.name}) mid-session with the whole conversation`, async () => {
      const second = await startProviderServer(partner.spec.servedModel);
      try {
        server.queue(
          { kind: "reply", text: "first", toolCalls: [toolCall("call_x", "before")] },
          { kind: "error", status: 503 },
        );
        second.queue({ kind: "reply", text: "continued elsewhere" });
        const { harness, sink } = harnessOn([model, partner.spec.make(second.url)], {
          retry: { maxRetries: 0 },
        });
        const result = await harness.session().run("start here");
        expect(result.stopReason).toEqual({ type: "completed" });
        expect(result.finalText).toBe("continued elsewhere");
        expect(sink.ofType("model_fallback").map((e) => e.data)).toEqual([
          expect.objectContaining({ from: model.id, reason: "http_503" }),
        ]);
        const moved = second.requests[0]!.body;
        expect(toolCallIdsIn(partner.spec.protocol, moved)).toEqual(["call_x"]);
        expect(toolResultsIn(partner.spec.protocol, moved)).toEqual([["call_x", "echo: before"]]);
        expect(JSON.stringify(moved)).toContain("start here");
        expect(JSON.stringify(moved)).toContain("first");
      } finally {
        await second.close();
      }
    });

    it("opens the endpoint's breaker after consecutive failures, refuses without calling, then lets one probe close it", async () => {
      const state = new GatewayState();
      const breaker = { failureThreshold: 2, cooldownMs: 5_000 };
      server.queue({ kind: "error", status: 500 }, { kind: "error", status: 500 });
      const first = harnessOn([model], { retry: { maxRetries: 0 }, breaker, state });
      expect((await first.harness.session().run("a")).stopReason).toMatchObject({
        code: "REIN_MODEL_CALL_FAILED",
      });
      expect((await first.harness.session().run("b")).stopReason).toMatchObject({
        code: "REIN_MODEL_CALL_FAILED",
      });
      expect(first.sink.ofType("model_breaker").map((e) => [e.data.from, e.data.to])).toEqual([
        ["closed", "open"],
      ]);

      const refused = await first.harness.session().run("c");
      expect(refused.stopReason).toMatchObject({ type: "error", code: "REIN_MODEL_CIRCUIT_OPEN" });
      expect(server.requests).toHaveLength(2);

      first.clock.advance(5_000);
      server.queue({ kind: "reply", text: "healthy again" });
      const probe = await first.harness.session().run("d");
      expect(probe.finalText).toBe("healthy again");
      expect(first.sink.ofType("model_breaker").map((e) => [e.data.from, e.data.to])).toEqual([
        ["closed", "open"],
        ["open", "half_open"],
        ["half_open", "closed"],
      ]);
    });
  });
}

export function anthropicSpec(stream: boolean): ProviderSpec {
  return {
    name: `anthropic (${stream ? "SSE" : "JSON"})`,
    protocol: "anthropic",
    stream,
    servedModel: "claude-sonnet-4-6-20260217",
    make: (url) =>
      new AnthropicModel({ model: "claude-sonnet-4-6", apiKey: "test-key", baseURL: url, stream, env: {} }),
  };
}
