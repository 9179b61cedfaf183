import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod/v4";
import { defineTool } from "../../src/index.js";
import { createTracing } from "../../src/observability.js";
import { PooledIdGenerator } from "../../src/telemetry/trace-config.js";
import { callTurn, echoTool, scriptHarness } from "../helpers.js";
import { retryingThenFallingBack } from "./fixtures.js";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

/** One run of two echo calls, traced into an in-memory exporter (simple processor); its finished spans. */
async function tracedRun(env: Record<string, string> = {}): Promise<ReadableSpan[]> {
  Object.assign(process.env, env);
  const exporter = new InMemorySpanExporter();
  const tracing = await createTracing({ exporter, simple: true });
  const h = scriptHarness(
    [callTurn("echo", { text: "a" }), callTurn("echo", { text: "b" }), { say: "done" }],
    { tools: [echoTool], sinks: [tracing.sink] },
  );
  const session = h.session();
  const result = await session.run("go");
  await session.close();
  await tracing.flush();
  expect(result.stopReason.type).toBe("completed");
  return [...exporter.getFinishedSpans()];
}

const HEX = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);

describe("chat and execute_tool spans, made when each call ends", () => {
  it("are children of the run's span: its trace id, ids of their own, times from the events, ended", async () => {
    const spans = await tracedRun();
    expect(spans.map((s) => s.name).sort()).toEqual([
      "chat test",
      "chat test",
      "chat test",
      "execute_tool echo",
      "execute_tool echo",
      "invoke_agent rein",
    ]);
    const agent = spans.find((s) => s.name === "invoke_agent rein")!;
    const root = agent.spanContext();
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    expect(ids.size).toBe(6);
    for (const s of spans) {
      const c = s.spanContext();
      expect(c.traceId).toBe(root.traceId);
      expect(c.spanId).toMatch(HEX(16));
      expect(c.traceFlags).toBe(1);
      expect(s.ended).toBe(true);
      expect(s.resource.attributes["service.name"]).toBe("rein");
      expect(s.instrumentationScope.name).toBe("rein");
      if (s === agent) continue;
      expect(s.parentSpanContext?.spanId).toBe(root.spanId);
      // Inside the run's span, and duration = end − start (the SDK's HrTime arithmetic).
      const ns = (t: readonly [number, number]) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
      expect(ns(s.startTime) >= ns(agent.startTime)).toBe(true);
      expect(ns(s.endTime) <= ns(agent.endTime)).toBe(true);
      expect(ns(s.duration)).toBe(ns(s.endTime) - ns(s.startTime));
      expect(s.status.code).toBe(0);
      expect(s.droppedAttributesCount).toBe(0);
    }
    const tool = spans.find((s) => s.name === "execute_tool echo")!;
    expect(tool.kind).toBe(0); // INTERNAL
    expect(spans.find((s) => s.name === "chat test")!.kind).toBe(2); // CLIENT
  });

  it("a flush during the run exports the spans of the calls that have ended", async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter }); // the batch processor, as by default
    let seen: string[] = [];
    const probe = defineTool({
      name: "probe",
      description: "Flushes the traces and notes which spans were exported.",
      input: z.object({}),
      risk: { level: "LOW", reason: "reads nothing" },
      execute: async () => {
        await tracing.flush();
        seen = exporter.getFinishedSpans().map((s) => s.name);
        return "ok";
      },
    });
    const h = scriptHarness([callTurn("echo", { text: "a" }), callTurn("probe"), { say: "done" }], {
      tools: [echoTool, probe],
      sinks: [tracing.sink],
    });
    await h.session().run("go");
    await tracing.shutdown();
    // The first turn's model call and tool call, and the second's model call, had ended; the probe's
    // own call and the run had not.
    expect(seen.sort()).toEqual(["chat test", "chat test", "execute_tool echo"]);
  });

  it("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT cuts string attributes on every span, the run's too", async () => {
    const spans = await tracedRun({ OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "4" });
    const tool = spans.find((s) => s.name === "execute_tool echo")!;
    expect(tool.attributes["gen_ai.tool.type"]).toBe("func");
    expect(tool.attributes["gen_ai.tool.name"]).toBe("echo");
    expect(tool.attributes["rein.tool.duration_ms"]).toEqual(expect.any(Number));
    const chat = spans.find((s) => s.name === "chat test")!;
    expect(chat.attributes["gen_ai.response.finish_reasons"]).toEqual(["tool"]);
    const agent = spans.find((s) => s.name === "invoke_agent rein")!;
    expect(agent.attributes["gen_ai.operation.name"]).toBe("invo");
  });

  it("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT keeps the first attributes and counts the rest as dropped", async () => {
    const spans = await tracedRun({ OTEL_ATTRIBUTE_COUNT_LIMIT: "3" });
    for (const s of spans) {
      expect(Object.keys(s.attributes)).toHaveLength(3);
      expect(s.droppedAttributesCount).toBeGreaterThan(0);
    }
    const tool = spans.find((s) => s.name === "execute_tool echo")!;
    expect(Object.keys(tool.attributes)).toEqual([
      "gen_ai.operation.name",
      "gen_ai.tool.name",
      "gen_ai.tool.call.id",
    ]);
  });

  it("OTEL_SPAN_EVENT_COUNT_LIMIT keeps the latest events and counts the dropped ones", async () => {
    process.env.OTEL_SPAN_EVENT_COUNT_LIMIT = "1";
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, simple: true });
    await scriptHarness([], { model: retryingThenFallingBack(), sinks: [tracing.sink] })
      .session()
      .run("go");
    await tracing.flush();
    const chat = exporter.getFinishedSpans().find((s) => s.name.startsWith("chat "))!;
    expect(chat.events.map((e) => e.name)).toEqual(["rein.model.fallback"]);
    expect(chat.droppedEventsCount).toBe(1);
  });

  it.each([
    ["parentbased_always_off", undefined, 0],
    ["traceidratio", "0", 0],
    ["parentbased_traceidratio", "0", 0],
    ["traceidratio", "1", 6],
    ["parentbased_always_on", undefined, 6],
    ["always_on", undefined, 6],
  ])(
    "OTEL_TRACES_SAMPLER=%s (arg %s): the run's children are sampled as its root is",
    async (sampler, arg, n) => {
      const spans = await tracedRun({
        OTEL_TRACES_SAMPLER: sampler,
        ...(arg !== undefined ? { OTEL_TRACES_SAMPLER_ARG: arg } : {}),
      });
      expect(spans).toHaveLength(n);
    },
  );

  it("ids are random lowercase hex of the W3C lengths, never repeated", () => {
    const ids = new PooledIdGenerator();
    const spanIds = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = ids.generateSpanId();
      expect(id).toMatch(HEX(16));
      expect(id).not.toBe("0000000000000000");
      spanIds.add(id);
    }
    expect(spanIds.size).toBe(5000);
    const traceId = ids.generateTraceId();
    expect(traceId).toMatch(HEX(32));
    expect(new PooledIdGenerator().generateTraceId()).not.toBe(traceId);
  });
});
