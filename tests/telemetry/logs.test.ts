import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, createTracing, logSink } from "../../src/observability.js";
import { checkLogger, parseLogLevel } from "../../src/telemetry/log-sink.js";
import { prettyLine } from "../../src/telemetry/pretty-log.js";
import { callTurn, echoTool, scriptHarness } from "../helpers.js";
import { deployTool } from "./fixtures.js";

const SECRET = "tangerine-quartz-5512-mallow";

function capture() {
  const lines: string[] = [];
  return { lines, write: (l: string) => lines.push(l), json: () => lines.map((l) => JSON.parse(l)) };
}

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
});

describe("structured logs (pino) from the events", () => {
  it("writes JSON lines with session, run and trace ids, redacted like the event log", async () => {
    const out = capture();
    const logger = await createLogger({ level: "debug", destination: out });
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, simple: true });
    const h = scriptHarness([callTurn("echo", { text: "hi" }), { say: "done" }], {
      tools: [echoTool],
      // Order matters only in that the trace sink opens the run's span before the log line needs it.
      sinks: [tracing.sink, logSink(logger, { traceOf: (r) => tracing.sink.traceOf(r) })],
      security: { spotlight: false, knownSecrets: { API_PASSPHRASE: SECRET } },
    });
    const session = h.session();
    const result = await session.run(`use passphrase ${SECRET} to say hi`);
    await session.close();
    await tracing.flush();
    const lines = out.json();
    const traceId = exporter
      .getFinishedSpans()
      .find((s) => s.name === "invoke_agent rein")!
      .spanContext().traceId;
    const runStarted = lines.find((l) => l.event === "run_started");
    expect(runStarted).toMatchObject({
      level: 30,
      msg: "run started",
      sessionId: session.id,
      runId: result.runId,
      tenantId: "local",
      traceId,
      task: "use passphrase [REDACTED:API_PASSPHRASE:1] to say hi",
    });
    expect(lines.find((l) => l.event === "run_ended")).toMatchObject({
      msg: "run ended",
      status: "completed",
      stopReason: "completed",
      turns: 2,
      traceId,
    });
    expect(lines.find((l) => l.event === "tool_call_finished")).toMatchObject({
      level: 30,
      tool: "echo",
      outcome: "ok",
      runId: result.runId,
      traceId,
    });
    expect(lines.map((l) => l.event)).toContain("model_call_finished");
    expect(lines.map((l) => l.event)).not.toContain("text_delta");
    expect(out.lines.join("\n")).not.toContain(SECRET);
    // seq orders the lines as the event log does.
    const seqs = lines.map((l) => l.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it("honours the level: at warn, only the denied call and warnings", async () => {
    const out = capture();
    const logger = await createLogger({ level: "warn", destination: out });
    const h = scriptHarness([callTurn("deploy", { target: "x", token: "t" }), { say: "ok" }], {
      tools: [deployTool],
      sinks: [logSink(logger)],
    });
    await h.session().run("go");
    const lines = out.json();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[40, "tool call denied"]]);
    expect(lines[0]).toMatchObject({ tool: "deploy", risk: "HIGH", deniedBy: "approvals" });
  });

  it("accepts the library user's own logger; refuses one without the methods", async () => {
    const calls: [string, Record<string, unknown>, string][] = [];
    const mine = {
      debug: (f: Record<string, unknown>, m: string) => calls.push(["debug", f, m]),
      info: (f: Record<string, unknown>, m: string) => calls.push(["info", f, m]),
      warn: (f: Record<string, unknown>, m: string) => calls.push(["warn", f, m]),
      error: (f: Record<string, unknown>, m: string) => calls.push(["error", f, m]),
    };
    await scriptHarness([{ say: "hello" }], { sinks: [logSink(mine)] })
      .session()
      .run("go");
    expect(calls.map(([level, , msg]) => `${level} ${msg}`)).toEqual([
      "info session started",
      "info run started",
      "debug model call started",
      "debug model call finished",
      "info run ended",
    ]);
    expect(() => checkLogger({ info() {} })).toThrow(
      expect.objectContaining({
        code: "REIN_TELEMETRY_INVALID",
        message: expect.stringContaining("debug, warn, error"),
      }),
    );
    expect(() => parseLogLevel("verbose", "--log-level")).toThrow(
      expect.objectContaining({
        code: "REIN_TELEMETRY_INVALID",
        message: expect.stringContaining("--log-level must be one of"),
      }),
    );
  });

  it("a logger that throws never stops the run", async () => {
    const boom = () => {
      throw new Error("disk full");
    };
    const sink = logSink({ debug: boom, info: boom, warn: boom, error: boom });
    const result = await scriptHarness([{ say: "hello" }], { sinks: [sink] })
      .session()
      .run("go");
    expect(result.stopReason.type).toBe("completed");
    expect(sink.failures()).toBeGreaterThan(0);
  });

  it("pretty lines: readable, coloured unless NO_COLOR, with control characters made inert", async () => {
    const line = JSON.stringify({
      level: 40,
      time: Date.UTC(2026, 0, 1, 12, 3, 4, 5),
      msg: "tool call denied",
      tool: "x\u001b[2Jy",
    });
    expect(prettyLine(line, false)).toBe('12:03:04.005 WARN  tool call denied tool="x\\u001b[2Jy"\n');
    expect(prettyLine(line, true)).toContain("\x1b[33mWARN ");
    expect(prettyLine("\u001b]0;title\u0007not json", false)).toBe("\uFFFD]0;title\uFFFDnot json\n");

    process.env.NO_COLOR = "1";
    const out = capture();
    const logger = await createLogger({ level: "info", destination: out, pretty: true });
    logger.warn({ tool: "deploy" }, "tool call denied");
    expect(out.lines.join("")).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}tool call denied tool=deploy\n$/);
    delete process.env.NO_COLOR;
    const coloured = capture();
    await (await createLogger({ level: "info", destination: coloured, pretty: true })).warn({}, "x");
    expect(coloured.lines.join("")).toContain("\x1b[");
  });
});
