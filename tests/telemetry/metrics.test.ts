import fs from "node:fs";
import { request } from "node:http";
import os from "node:os";
import path from "node:path";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { callbackGate, createHarness, type ReinEvent } from "../../src/index.js";
import { createMetrics, createTracing } from "../../src/observability.js";
import { createSandbox } from "../../src/sandbox/create-sandbox.js";
import { recordingSink, scriptedModel } from "../../src/testing.js";
import { deferred, echoTool, scriptHarness } from "../helpers.js";
import { deployTool, retryingThenFallingBack, sample } from "./fixtures.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
      );
    })
      .on("error", reject)
      .end();
  });
}

describe("Prometheus metrics (prom-client, a registry per harness)", () => {
  it("counts runs, turns, tokens, cost, tool calls by outcome and approvals, with bounded labels", async () => {
    const metrics = await createMetrics();
    const waiting = deferred();
    const answer = deferred<boolean>();
    const h = scriptHarness(
      [
        {
          tool_calls: [
            { tool: "echo", input: { text: "a" } },
            { tool: "invented_tool_9f3", input: {} },
            { tool: "deploy", input: { target: "prod", token: "t" } },
          ],
          usage: { input_tokens: 100, output_tokens: 20 },
        },
        { say: "done", usage: { input_tokens: 150, output_tokens: 5 } },
      ],
      {
        tools: [echoTool, deployTool],
        sinks: [metrics.sink],
        approvals: {
          gate: callbackGate(() => {
            waiting.resolve();
            return answer.promise;
          }),
        },
      },
    );
    const session = h.session();
    const running = session.run("go");
    await waiting.promise;
    // While the gate waits, the call is pending.
    expect(sample(await metrics.text(), "rein_approvals_pending")).toBe(1);
    answer.resolve(true);
    const result = await running;
    await session.close();
    expect(result.stopReason.type).toBe("completed");
    const text = await metrics.text();
    expect(sample(text, "rein_approvals_pending")).toBe(0);
    expect(sample(text, "rein_approval_wait_seconds_count", { outcome: "approved" })).toBe(1);
    expect(sample(text, "rein_tool_calls_total", { tool: "echo", outcome: "ok" })).toBe(1);
    expect(sample(text, "rein_tool_calls_total", { tool: "deploy", outcome: "ok" })).toBe(1);
    // A name the model invented is not a label value of its own.
    expect(sample(text, "rein_tool_calls_total", { tool: "_unknown", outcome: "denied" })).toBe(1);
    expect(text).not.toContain("invented_tool_9f3");
    expect(sample(text, "rein_tool_duration_seconds_count", { tool: "echo", outcome: "ok" })).toBe(1);
    expect(sample(text, "rein_runs_total", { status: "completed", stop_reason: "completed" })).toBe(1);
    expect(sample(text, "rein_run_duration_seconds_count", { status: "completed" })).toBe(1);
    expect(sample(text, "rein_run_turns_sum")).toBe(2);
    expect(sample(text, "rein_run_turns_bucket", { le: "2" })).toBe(1);
    expect(sample(text, "rein_run_turns_bucket", { le: "1" })).toBe(0);
    expect(sample(text, "rein_model_tokens_total", { model: "scripted:test", type: "input" })).toBe(250);
    expect(sample(text, "rein_model_tokens_total", { model: "scripted:test", type: "output" })).toBe(25);
    expect(sample(text, "rein_model_cost_usd_total", { model: "scripted:test" })).toBe(0);
    expect(
      sample(text, "rein_model_calls_total", { model: "scripted:test", finish_reason: "tool_use" }),
    ).toBe(1);
    expect(sample(text, "rein_run_cost_usd_count")).toBe(1);
    // No session or run id as a label, anywhere.
    expect(text).not.toContain(session.id);
    expect(text).not.toContain(result.runId);
  });

  it("counts summed between reads are exact at every read, by every way of reading (no double counting)", async () => {
    // The hot counters add up in the sink and reach prom-client when the registry is read.
    const metrics = await createMetrics();
    const h = scriptHarness(
      [
        {
          tool_calls: [{ tool: "echo", input: { text: "a" } }],
          usage: { input_tokens: 10, output_tokens: 2 },
        },
        { say: "done", usage: { input_tokens: 10, output_tokens: 2 } },
      ],
      { tools: [echoTool], sinks: [metrics.sink] },
    );
    const calls = () => metrics.registry.getSingleMetric("rein_tool_calls_total")?.get();
    const tokens = async () =>
      sample(await metrics.text(), "rein_model_tokens_total", { model: "scripted:test", type: "input" });
    await h.session().run("one");
    expect((await calls())?.values).toEqual([{ labels: { tool: "echo", outcome: "ok" }, value: 1 }]);
    expect(await tokens()).toBe(20);
    // Read again with nothing new: the same figures.
    expect(await tokens()).toBe(20);
    expect((await calls())?.values[0]?.value).toBe(1);
    await h.session().run("two");
    await h.session().run("three");
    expect(await tokens()).toBe(60);
    expect((await calls())?.values[0]?.value).toBe(3);
    expect(
      sample(await metrics.registry.metrics(), "rein_tool_calls_total", { tool: "echo", outcome: "ok" }),
    ).toBe(3);
  });

  it("counts the gateway's retries and fallbacks, and what the fallback model cost", async () => {
    const metrics = await createMetrics();
    const h = scriptHarness([], { model: retryingThenFallingBack(), sinks: [metrics.sink] });
    await h.session().run("go");
    const text = await metrics.text();
    expect(sample(text, "rein_model_retries_total", { model: "anthropic:claude-opus-4-1" })).toBe(1);
    expect(
      sample(text, "rein_model_fallbacks_total", {
        from: "anthropic:claude-opus-4-1",
        to: "openai:gpt-4.1-mini",
      }),
    ).toBe(1);
    // gpt-4.1-mini: $0.40 / $1.60 per million tokens; 100 in, 10 out.
    expect(sample(text, "rein_model_cost_usd_total", { model: "openai:gpt-4.1-mini" })).toBeCloseTo(
      (100 * 0.4 + 10 * 1.6) / 1e6,
      12,
    );
  });

  it("counts guard stops: a run the turn limit stopped", async () => {
    const metrics = await createMetrics();
    const h = scriptHarness(
      [
        { tool_calls: [{ tool: "echo", input: { text: "a" } }] },
        { tool_calls: [{ tool: "echo", input: { text: "a" } }] },
        { tool_calls: [{ tool: "echo", input: { text: "a" } }] },
      ],
      { tools: [echoTool], sinks: [metrics.sink], limits: { maxTurns: 2 } },
    );
    const result = await h.session().run("go");
    expect(result.stopReason.type).toBe("max_turns");
    const text = await metrics.text();
    expect(sample(text, "rein_guard_stops_total", { guard: "max_turns", scope: "run" })).toBe(1);
    expect(sample(text, "rein_runs_total", { status: "incomplete", stop_reason: "max_turns" })).toBe(1);
  });

  it("two harnesses in one process keep separate registries", async () => {
    const a = await createMetrics();
    const b = await createMetrics();
    await scriptHarness([{ say: "x" }], { sinks: [a.sink] })
      .session()
      .run("go");
    const ta = await a.text();
    const tb = await b.text();
    expect(sample(ta, "rein_runs_total", { status: "completed", stop_reason: "completed" })).toBe(1);
    expect(sample(tb, "rein_runs_total", { status: "completed", stop_reason: "completed" })).toBeUndefined();
    expect(a.registry).not.toBe(b.registry);
  });

  it("measures sandbox start-up of a real bubblewrap command, by backend, in metrics and on the span", async () => {
    const workspace = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rein-metrics-")));
    const sandbox = createSandbox({ workspace });
    cleanups.push(() => fs.rmSync(workspace, { recursive: true, force: true }));
    cleanups.push(() => sandbox.dispose());
    const metrics = await createMetrics();
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, simple: true });
    cleanups.push(() => tracing.shutdown());
    const sink = recordingSink();
    const h = createHarness({
      model: scriptedModel({
        name: "sbx",
        turns: [{ tool_calls: [{ tool: "run_shell", input: { command: "echo hi" } }] }, { say: "done" }],
      }),
      workspace,
      sandbox,
      audit: false,
      approvals: { gate: callbackGate(() => true) },
      sinks: [metrics.sink, tracing.sink, sink],
    });
    await h.session().run("go");
    const [finished] = sink.ofType("tool_call_finished");
    expect(finished!.data.sandbox).toEqual({ backend: "bubblewrap", startupMs: expect.any(Number) });
    const startupMs = finished!.data.sandbox!.startupMs;
    expect(startupMs).toBeGreaterThan(0);
    expect(startupMs).toBeLessThanOrEqual(finished!.data.durationMs);
    const text = await metrics.text();
    expect(sample(text, "rein_sandbox_startup_seconds_count", { backend: "bubblewrap" })).toBe(1);
    expect(sample(text, "rein_sandbox_startup_seconds_sum", { backend: "bubblewrap" })).toBeCloseTo(
      startupMs / 1000,
      6,
    );
    // The execute_tool span names the backend and its start-up.
    await tracing.flush();
    const span = exporter.getFinishedSpans().find((sp) => sp.name === "execute_tool run_shell");
    expect(span?.attributes).toMatchObject({
      "gen_ai.tool.name": "run_shell",
      "rein.sandbox.backend": "bubblewrap",
      "rein.sandbox.startup_ms": startupMs,
    });
  });

  it("a sink failure inside metrics never stops the run", async () => {
    const metrics = await createMetrics();
    const h = scriptHarness([{ say: "x" }], { sinks: [metrics.sink] });
    // An event the sink cannot read (data missing) is counted, not thrown into the session.
    metrics.sink.handle({ type: "run_ended", runId: "r", data: undefined } as unknown as ReinEvent);
    expect((metrics.sink as unknown as { failures: number }).failures).toBe(1);
    expect((await h.session().run("go")).stopReason.type).toBe("completed");
  });

  it("serves /metrics over HTTP, 404 elsewhere; a port in use is a clear REIN_METRICS_SERVER_FAILED", async () => {
    const metrics = await createMetrics();
    const server = await metrics.serve({ port: 0 });
    cleanups.push(() => server.close());
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const ok = await get(server.url);
    expect(ok.status).toBe(200);
    expect(ok.type).toContain("text/plain");
    expect(ok.body).toContain("# TYPE rein_tool_calls_total counter");
    expect((await get(server.url.replace("/metrics", "/other"))).status).toBe(404);
    const clash = await createMetrics();
    await expect(clash.serve({ port: server.port })).rejects.toMatchObject({
      code: "REIN_METRICS_SERVER_FAILED",
      message: expect.stringContaining(`127.0.0.1:${server.port}: the port is already in use`),
    });
    await expect(clash.serve({ port: 70_000 })).rejects.toMatchObject({ code: "REIN_TELEMETRY_INVALID" });
  });
});
