import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod/v4";
import { defineTool, type ReinEvent } from "../../src/index.js";
import { createMetrics } from "../../src/observability.js";
import { EventBatch } from "../../src/telemetry/event-batch.js";
import { callTurn, echoTool, scriptHarness } from "../helpers.js";
import { sample } from "./fixtures.js";

const event = (seq: number) => ({ seq, type: "text_delta" }) as unknown as ReinEvent;

afterEach(() => {
  vi.useRealTimers();
});

describe("EventBatch: a sink's events, applied in order, in batches", () => {
  it("applies nothing until `max` events wait, then all of them in order", () => {
    const applied: number[] = [];
    const batch = new EventBatch((e) => applied.push(e.seq), 4, 60_000);
    for (let i = 1; i <= 3; i++) batch.add(event(i));
    expect(applied).toEqual([]);
    expect(batch.waiting).toBe(3);
    batch.add(event(4));
    expect(applied).toEqual([1, 2, 3, 4]);
    expect(batch.waiting).toBe(0);
  });

  it("drain() applies whatever waits, in order; a second drain has nothing to do", () => {
    const applied: number[] = [];
    const batch = new EventBatch((e) => applied.push(e.seq), 64, 60_000);
    batch.add(event(1));
    batch.add(event(2));
    batch.drain();
    batch.drain();
    expect(applied).toEqual([1, 2]);
  });

  it("applies a waiting event at the latest `delayMs` after it came, and re-arms for the next", () => {
    vi.useFakeTimers();
    const applied: number[] = [];
    const batch = new EventBatch((e) => applied.push(e.seq), 64, 1000);
    batch.add(event(1));
    vi.advanceTimersByTime(999);
    expect(applied).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(applied).toEqual([1]);
    batch.add(event(2));
    batch.add(event(3));
    vi.advanceTimersByTime(1000);
    expect(applied).toEqual([1, 2, 3]);
  });
});

describe("metrics read during a run count every event before the read", () => {
  it("a scrape from inside a tool call sees the model calls and tool calls already finished", async () => {
    const metrics = await createMetrics();
    const texts: string[] = [];
    const probe = defineTool({
      name: "probe",
      description: "Reads the metrics.",
      input: z.object({}),
      risk: { level: "LOW", reason: "reads nothing" },
      execute: async () => {
        texts.push(await metrics.text());
        return "ok";
      },
    });
    const h = scriptHarness(
      [
        callTurn("echo", { text: "a" }, { usage: { input_tokens: 7, output_tokens: 3 } }),
        callTurn("probe", {}, { usage: { input_tokens: 7, output_tokens: 3 } }),
        { say: "done" },
      ],
      { tools: [echoTool, probe], sinks: [metrics.sink] },
    );
    await h.session().run("go");
    const [during] = texts;
    expect(sample(during!, "rein_tool_calls_total", { tool: "echo", outcome: "ok" })).toBe(1);
    expect(sample(during!, "rein_tool_duration_seconds_count", { tool: "echo", outcome: "ok" })).toBe(1);
    expect(sample(during!, "rein_model_tokens_total", { model: "scripted:test", type: "input" })).toBe(14);
    expect(sample(during!, "rein_model_call_duration_seconds_count", { model: "scripted:test" })).toBe(2);
    expect(sample(during!, "rein_tool_calls_total", { tool: "probe", outcome: "ok" })).toBeUndefined();
    // And after the run, everything.
    const after = await metrics.text();
    expect(sample(after, "rein_tool_calls_total", { tool: "probe", outcome: "ok" })).toBe(1);
    expect(sample(after, "rein_model_call_duration_seconds_count", { model: "scripted:test" })).toBe(3);
  });
});
