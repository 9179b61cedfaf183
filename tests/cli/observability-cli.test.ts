import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ReinEvent } from "../../src/index.js";
import { tempDir } from "../helpers.js";
import { sample } from "../telemetry/fixtures.js";
import { closedPort, startOtlpReceiver } from "../telemetry/otlp-receiver.js";

const BIN = join(resolve(import.meta.dirname, "../.."), "bin/rein.js");

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function script(turns: unknown[]): string {
  const file = join(tempDir(), "script.json");
  writeFileSync(file, JSON.stringify({ name: "cli", turns }));
  return file;
}

/** Spawns the real CLI without blocking this process (the loopback receivers answer meanwhile). */
function rein(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: tempDir(),
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const listeners: (() => void)[] = [];
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
    for (const l of listeners) l();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
    for (const l of listeners) l();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) =>
    child.once("close", (code) => r({ code, stdout, stderr })),
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await done;
  });
  /** Resolves when the output so far satisfies `test` (checked on every chunk). */
  const when = (test: (out: { stdout: string; stderr: string }) => boolean) =>
    new Promise<{ stdout: string; stderr: string }>((r) => {
      const check = () => {
        if (test({ stdout, stderr })) r({ stdout, stderr });
      };
      listeners.push(check);
      check();
    });
  return { child, done, when };
}

const LIST = { tool_calls: [{ tool: "list_directory", input: {} }] };

describe("rein run: traces, metrics and logs", () => {
  it("--otel exports the run's spans by OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT and says where", async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(receiver.close);
    const file = script([LIST, { say: "done" }]);
    const r = await rein(["run", "look", "--model", `scripted:${file}`, "--no-audit", "--otel"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.base,
    }).done;
    expect(r.code).toBe(0);
    expect(receiver.spans.map((s) => s.name).sort()).toEqual([
      "chat cli",
      "chat cli",
      "execute_tool list_directory",
      "invoke_agent rein",
    ]);
    const agent = receiver.spans.find((s) => s.name === "invoke_agent rein")!;
    for (const s of receiver.spans.filter((x) => x !== agent)) expect(s.parentSpanId).toBe(agent.spanId);
    expect(r.stderr).toContain(`rein: traces: 4 spans exported by OTLP/HTTP to ${receiver.url}`);
  });

  it("the OTEL_* variables alone turn tracing on", async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(receiver.close);
    const r = await rein(
      ["run", "hi", "--model", `scripted:${script([{ say: "hello" }])}`, "--no-audit", "--json"],
      {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
      },
    ).done;
    expect(r.code).toBe(0);
    expect(receiver.spans.map((s) => s.name).sort()).toEqual(["chat cli", "invoke_agent rein"]);
  });

  it("a dead OTLP endpoint does not fail the run; the summary says the spans were not delivered", async () => {
    const port = await closedPort();
    const r = await rein(
      ["run", "hi", "--model", `scripted:${script([{ say: "hello" }])}`, "--no-audit", "--otel"],
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      },
    ).done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `rein: traces: 2 of 2 spans NOT delivered to http://127.0.0.1:${port}/v1/traces`,
    );
  });

  it("--metrics-port serves /metrics during the run, stops at exit, and the summary names it", async () => {
    // Turn 2 waits (the scripted model's delay), so the run is live while the test scrapes it.
    const file = script([LIST, { delay_ms: 120_000, say: "late" }]);
    const run = rein([
      "run",
      "look",
      "--model",
      `scripted:${file}`,
      "--no-audit",
      "--json",
      "--metrics-port",
      "0",
    ]);
    const seen = await run.when(
      ({ stdout, stderr }) =>
        stderr.includes("rein: metrics at") && /"type":"model_call_started"[^\n]*"turn":2/.test(stdout),
    );
    const url = /rein: metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(seen.stderr)![1]!;
    const text = await (await fetch(url)).text();
    expect(sample(text, "rein_tool_calls_total", { tool: "list_directory", outcome: "ok" })).toBe(1);
    expect(sample(text, "rein_model_calls_total", { model: "scripted:cli", finish_reason: "tool_use" })).toBe(
      1,
    );
    expect(text).toContain("process_cpu_seconds_total");
    run.child.kill("SIGINT");
    const r = await run.done;
    expect(r.code).toBe(130); // cancelled by the interrupt
    expect(r.stderr).toContain(`rein: metrics: served at ${url} during the run (stopped at exit)`);
    await expect(fetch(url)).rejects.toThrow();
  });

  it("--metrics-port on a port in use fails before the run with REIN_METRICS_SERVER_FAILED", async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => holder.close(() => r())));
    const { port } = holder.address() as AddressInfo;
    const r = await rein([
      "run",
      "hi",
      "--model",
      `scripted:${script([{ say: "hello" }])}`,
      "--json",
      "--metrics-port",
      String(port),
    ]).done;
    expect(r.code).toBe(2);
    // --json: the outcome is one JSON line on stdout (issue 25), and no run started (no event before it).
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const outcome = JSON.parse(lines[0]!);
    expect(outcome).toMatchObject({ type: "error", code: "REIN_METRICS_SERVER_FAILED", exitCode: 2 });
    expect(outcome.message).toContain(
      `Cannot serve metrics on 127.0.0.1:${port}: the port is already in use by another process`,
    );

    // Without --json, the same error on stderr, and nothing on stdout.
    const human = await rein([
      "run",
      "hi",
      "--model",
      `scripted:${script([{ say: "hello" }])}`,
      "--metrics-port",
      String(port),
    ]).done;
    expect(human.code).toBe(2);
    expect(human.stderr).toContain(
      `Cannot serve metrics on 127.0.0.1:${port}: the port is already in use by another process`,
    );
    expect(human.stderr).toContain("REIN_METRICS_SERVER_FAILED");
    expect(human.stdout).toBe("");
  });

  it("--log-level info writes JSON log lines with session and run ids on stderr; a bad level is refused", async () => {
    const r = await rein([
      "run",
      "hi",
      "--model",
      `scripted:${script([LIST, { say: "done" }])}`,
      "--no-audit",
      "--json",
      "--log-level",
      "info",
    ]).done;
    expect(r.code).toBe(0);
    const runStarted = r.stdout
      .split("\n")
      .map((l) => (l ? (JSON.parse(l) as ReinEvent) : undefined))
      .find((e) => e?.type === "run_started")!;
    const logs = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    expect(logs.map((l) => l.msg)).toEqual([
      "session started",
      "run started",
      "tool call finished",
      "run ended",
      "session ended",
    ]);
    expect(logs[1]).toMatchObject({
      level: 30,
      sessionId: runStarted.sessionId,
      runId: runStarted.runId,
      event: "run_started",
    });
    const bad = await rein(["run", "hi", "--log-level", "verbose"]).done;
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(
      '--log-level must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"',
    );
  });

  it("on a terminal the logs are pretty lines, coloured unless NO_COLOR is set", () => {
    const file = script([{ say: "hello" }]);
    // `script` gives the CLI a real pseudo-terminal for stdout and stderr.
    const inPty = (env: Record<string, string | undefined>) => {
      const cmd = [
        process.execPath,
        BIN,
        "run",
        "hi",
        "--model",
        `scripted:${file}`,
        "--no-audit",
        "--json",
        "--log-level",
        "info",
      ]
        .map((a) => `'${a}'`)
        .join(" ");
      const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
        cwd: tempDir(),
        encoding: "utf8",
        env: { ...process.env, ...env } as NodeJS.ProcessEnv,
      });
      expect(r.status).toBe(0);
      return r.stdout;
    };
    const plain = inPty({ NO_COLOR: "1" });
    expect(plain).toMatch(/\d\d:\d\d:\d\d\.\d{3} INFO {2}run started event=run_started sessionId=ses_/);
    expect(plain).not.toContain('"msg":"run started"');
    expect(plain).not.toContain("\x1b[");
    const coloured = inPty({ NO_COLOR: undefined, FORCE_COLOR: undefined });
    expect(coloured).toContain("\x1b[32mINFO \x1b[0m run started");
  });
});
