import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { callbackGate } from "../../src/index.js";
import { createTracing, otlpTracesUrl, tracingRequestedByEnv } from "../../src/observability.js";
import { callTurn, echoTool, scriptHarness } from "../helpers.js";
import { deployTool, retryingThenFallingBack } from "./fixtures.js";
import { closedPort, type ReceivedSpan, startOtlpReceiver } from "./otlp-receiver.js";

const SECRET = "opal-harbour-7731-velvet";

function script() {
  return [
    {
      tool_calls: [
        { tool: "echo", input: { text: "hi" } },
        { tool: "deploy", input: { target: "prod", token: SECRET } },
      ],
      usage: { input_tokens: 120, output_tokens: 30 },
    },
    { say: "done", usage: { input_tokens: 200, output_tokens: 5 } },
  ];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function byName(spans: readonly ReceivedSpan[], prefix: string) {
  return spans.filter((s) => s.name.startsWith(prefix));
}

describe("OpenTelemetry traces (GenAI conventions) to a real OTLP/HTTP receiver", () => {
  it("exports invoke_agent with chat and execute_tool children, with the GenAI and rein.* attributes", async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(receiver.close);
    const tracing = await createTracing({ url: receiver.url, recordContent: true, maxContentChars: 100 });
    const h = scriptHarness(script(), {
      tools: [echoTool, deployTool],
      sinks: [tracing.sink],
      approvals: { gate: callbackGate(() => true) },
      security: { spotlight: false, knownSecrets: { DEPLOY_TOKEN: SECRET } },
    });
    const session = h.session();
    const result = await session.run("ship it");
    await session.close();
    await tracing.shutdown();
    expect(result.stopReason.type).toBe("completed");
    expect(receiver.requests.every((r) => r.path === "/v1/traces" && r.contentType.includes("json"))).toBe(
      true,
    );
    const spans = receiver.spans;
    expect(spans).toHaveLength(5);

    const [agent] = byName(spans, "invoke_agent");
    expect(agent).toBeDefined();
    expect(agent!.parentSpanId).toBe("");
    expect(agent!.resource["service.name"]).toBe("rein");
    expect(agent!.attributes).toMatchObject({
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.provider.name": "scripted",
      "gen_ai.request.model": "test",
      "gen_ai.conversation.id": session.id,
      "rein.session.id": session.id,
      "rein.run.id": result.runId,
      "rein.run.status": "completed",
      "rein.stop_reason": "completed",
      "rein.run.turns": 2,
      "gen_ai.usage.input_tokens": 320,
      "gen_ai.usage.output_tokens": 35,
    });

    const chats = byName(spans, "chat ");
    expect(chats.map((s) => s.name)).toEqual(["chat test", "chat test"]);
    for (const c of chats) {
      expect(c.traceId).toBe(agent!.traceId);
      expect(c.parentSpanId).toBe(agent!.spanId);
      expect(c.kind).toBe(3); // SPAN_KIND_CLIENT
    }
    expect(chats[0]!.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "scripted",
      "gen_ai.request.model": "test",
      "gen_ai.response.model": "test",
      "gen_ai.usage.input_tokens": 120,
      "gen_ai.usage.output_tokens": 30,
      "gen_ai.response.finish_reasons": ["tool_use"],
      "rein.model.retries": 0,
    });
    expect(chats[1]!.attributes["gen_ai.response.finish_reasons"]).toEqual(["end_turn"]);

    const tools = byName(spans, "execute_tool ");
    expect(tools.map((s) => s.name).sort()).toEqual(["execute_tool deploy", "execute_tool echo"]);
    for (const t of tools) {
      expect(t.traceId).toBe(agent!.traceId);
      expect(t.parentSpanId).toBe(agent!.spanId);
      expect(t.startMs).toBeGreaterThanOrEqual(agent!.startMs);
      expect(t.endMs).toBeLessThanOrEqual(agent!.endMs);
    }
    const deploy = tools.find((t) => t.name === "execute_tool deploy")!;
    expect(deploy.attributes).toMatchObject({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "deploy",
      "gen_ai.tool.call.id": "toolu_1_1",
      "rein.risk.level": "HIGH",
      "rein.decision": "allow",
      "rein.approval.outcome": "approved",
      "rein.approval.by": "callback",
      "rein.tool.outcome": "ok",
      "rein.tool.executed": true,
    });
    expect(deploy.attributes["rein.risk.rule"]).toEqual(expect.any(String));
    expect(deploy.attributes["rein.approval.wait_ms"]).toEqual(expect.any(Number));
    // Content is on the span because it was asked for: redacted, then truncated.
    const args = String(deploy.attributes["gen_ai.tool.call.arguments"]);
    expect(args).toContain("[REDACTED:DEPLOY_TOKEN:1]");
    expect(JSON.stringify(spans)).not.toContain(SECRET);
    expect(String(deploy.attributes["gen_ai.tool.call.result"])).toMatch(
      /^deployed prod x+…\[truncated \d+ chars\]$/,
    );
    const echo = tools.find((t) => t.name === "execute_tool echo")!;
    expect(echo.attributes).toMatchObject({ "rein.risk.level": "LOW", "rein.decision": "allow" });
    expect(echo.attributes["rein.approval.outcome"]).toBeUndefined();
    expect(tracing.stats()).toEqual({ exported: 5, failed: 0, lastError: undefined });
  });

  it("leaves tool inputs and results off the spans unless asked", async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, simple: true });
    const h = scriptHarness([callTurn("echo", { text: "private words" }), { say: "ok" }], {
      tools: [echoTool],
      sinks: [tracing.sink],
    });
    await h.session().run("go");
    await tracing.flush(); // (shutdown would empty the in-memory exporter)
    const tool = exporter.getFinishedSpans().find((s) => s.name === "execute_tool echo")!;
    expect(tool.attributes["gen_ai.tool.name"]).toBe("echo");
    expect(tool.attributes["gen_ai.tool.call.arguments"]).toBeUndefined();
    expect(tool.attributes["gen_ai.tool.call.result"]).toBeUndefined();
    expect(JSON.stringify(exporter.getFinishedSpans().map((s) => s.attributes))).not.toContain(
      "private words",
    );
    expect(tracing.destination).toBe("InMemorySpanExporter");
  });

  it("records denials, guard stops and the run's failure status", async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, simple: true });
    // HIGH with no gate: denied (fail closed); then the turn limit stops the run.
    const h = scriptHarness(
      [callTurn("deploy", { target: "x", token: "t" }), callTurn("echo", { text: "a" })],
      {
        tools: [echoTool, deployTool],
        sinks: [tracing.sink],
        limits: { maxTurns: 2 },
      },
    );
    const result = await h.session().run("go");
    await tracing.flush();
    expect(result.stopReason.type).toBe("max_turns");
    const spans = exporter.getFinishedSpans();
    const deploy = spans.find((s) => s.name === "execute_tool deploy")!;
    expect(deploy.attributes).toMatchObject({
      "rein.decision": "deny",
      "rein.denied.stage": "approve",
      "rein.tool.outcome": "denied",
      "error.type": "permission_denied",
    });
    expect(deploy.status.code).toBe(2); // ERROR
    const agent = spans.find((s) => s.name === "invoke_agent rein")!;
    expect(agent.attributes).toMatchObject({
      "rein.stop_reason": "max_turns",
      "rein.guard.stop": "max_turns",
    });
  });

  it("puts the gateway's retries and fallbacks on the chat span", async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, simple: true });
    const h = scriptHarness([], { model: retryingThenFallingBack(), sinks: [tracing.sink] });
    const result = await h.session().run("go");
    await tracing.flush();
    expect(result.finalText).toBe("from the fallback");
    const chat = exporter.getFinishedSpans().find((s) => s.name.startsWith("chat "))!;
    expect(chat.name).toBe("chat claude-opus-4-1");
    expect(chat.attributes).toMatchObject({
      "gen_ai.provider.name": "anthropic",
      "gen_ai.request.model": "claude-opus-4-1",
      "gen_ai.response.model": "gpt-4.1-mini",
      "rein.model.retries": 1,
      "rein.model.fallbacks": 1,
      "rein.model.fallback_to": "openai:gpt-4.1-mini",
    });
    expect(chat.events.map((e) => e.name)).toEqual(["rein.model.retry", "rein.model.fallback"]);
    expect(chat.events[1]!.attributes).toMatchObject({ "rein.fallback.reason": "http_429" });
  });

  it("OTEL_TRACES_SAMPLER is honoured (always_off: no spans)", async () => {
    const saved = { ...process.env };
    process.env.OTEL_TRACES_SAMPLER = "always_off";
    const exporter = new InMemorySpanExporter();
    try {
      const tracing = await createTracing({ exporter, simple: true });
      await scriptHarness([{ say: "ok" }], { sinks: [tracing.sink] })
        .session()
        .run("go");
      await tracing.flush();
    } finally {
      process.env = saved;
    }
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it("cuts content attributes at 4,096 characters by default", async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, simple: true, recordContent: true });
    const long = "y".repeat(5000);
    await scriptHarness([callTurn("echo", { text: long }), { say: "ok" }], {
      tools: [echoTool],
      sinks: [tracing.sink],
    })
      .session()
      .run("go");
    await tracing.flush();
    const tool = exporter.getFinishedSpans().find((s) => s.name === "execute_tool echo")!;
    expect(tool.attributes["gen_ai.tool.call.result"]).toBe(`${"y".repeat(4096)}…[truncated 904 chars]`);
  });

  it("a bad OTLP endpoint does not crash or stop the run; the failure is counted", async () => {
    const port = await closedPort();
    const tracing = await createTracing({ url: `http://127.0.0.1:${port}/v1/traces` });
    const h = scriptHarness([callTurn("echo", { text: "a" }), { say: "ok" }], {
      tools: [echoTool],
      sinks: [tracing.sink],
    });
    const result = await h.session().run("go");
    expect(result.stopReason.type).toBe("completed");
    await tracing.shutdown();
    const stats = tracing.stats();
    expect(stats.exported).toBe(0);
    expect(stats.failed).toBe(4); // invoke_agent, two chat, one execute_tool
    expect(stats.lastError).toEqual(expect.any(String));
  });

  it("reads the standard OTEL_* variables: endpoint and service name", async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(receiver.close);
    const saved = { ...process.env };
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.base;
    process.env.OTEL_SERVICE_NAME = "billing-agent";
    process.env.OTEL_RESOURCE_ATTRIBUTES = "deployment.environment=staging";
    process.env.OTEL_EXPORTER_OTLP_HEADERS = "x-collector-token=abc123";
    try {
      expect(tracingRequestedByEnv()).toBe(true);
      expect(otlpTracesUrl()).toBe(receiver.url);
      const tracing = await createTracing();
      expect(tracing.destination).toBe(receiver.url);
      const h = scriptHarness([{ say: "ok" }], { sinks: [tracing.sink] });
      await h.session().run("go");
      await tracing.shutdown();
    } finally {
      process.env = saved;
    }
    expect(receiver.spans.map((s) => s.name)).toEqual(["chat test", "invoke_agent rein"]);
    expect(receiver.spans[0]!.resource["service.name"]).toBe("billing-agent");
    expect(receiver.spans[0]!.resource["deployment.environment"]).toBe("staging");
    expect(receiver.requests[0]!.headers["x-collector-token"]).toBe("abc123");
    expect(
      tracingRequestedByEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x", OTEL_SDK_DISABLED: "true" }),
    ).toBe(false);
    expect(tracingRequestedByEnv({})).toBe(false);
  });
});
