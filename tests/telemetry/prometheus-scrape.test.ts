import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/observability.js";
import { echoTool, scriptHarness } from "../helpers.js";
import { closedPort } from "./otlp-receiver.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Starts a real Prometheus on loopback with its own config and storage; resolves once it logs that it is ready. */
async function startPrometheus(target: string): Promise<{ api: string }> {
  const dir = mkdtempSync(join(tmpdir(), "rein-prometheus-"));
  copyFileSync(resolve("prometheus/rein-alerts.yml"), join(dir, "rein-alerts.yml"));
  writeFileSync(
    join(dir, "prometheus.yml"),
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "rule_files: [rein-alerts.yml]",
      "scrape_configs:",
      "  - job_name: rein",
      `    static_configs: [{ targets: ["${target}"] }]`,
      "",
    ].join("\n"),
  );
  const port = await closedPort();
  const child: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=info",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  cleanups.push(async () => {
    child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  let log = "";
  await new Promise<void>((ready, fail) => {
    child.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("Server is ready to receive web requests")) ready();
    });
    child.once("exit", (code) => fail(new Error(`prometheus exited (${code}) before it was ready:\n${log}`)));
  });
  return { api: `http://127.0.0.1:${port}/api/v1` };
}

async function query(
  api: string,
  promql: string,
): Promise<{ value: number; labels: Record<string, string> }[]> {
  const res = await fetch(`${api}/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  expect(body.status).toBe("success");
  return body.data.result.map((r) => ({ value: Number(r.value[1]), labels: r.metric }));
}

/**
 * Asks until Prometheus has scraped what the test expects: the scrape happens on Prometheus's own
 * 1 s schedule, so there is no event to wait for here; the deadline bounds it.
 */
async function until<T>(ask: () => Promise<T>, ok: (t: T) => boolean, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const got = await ask();
    if (ok(got) || Date.now() > end) return got;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("a real Prometheus scraping a running Rein", () => {
  it("scrapes /metrics on loopback, loads the alert rules, and the tool-call query returns the run's count", async () => {
    const metrics = await createMetrics();
    const server = await metrics.serve({ port: 0 });
    cleanups.push(() => server.close());
    const h = scriptHarness(
      [
        {
          tool_calls: [
            { tool: "echo", input: { text: "a" } },
            { tool: "echo", input: { text: "b" } },
            { tool: "echo", input: { text: "c" } },
            { tool: "no_such_tool", input: {} },
          ],
        },
        { tool_calls: [{ tool: "echo", input: { text: "d" } }] },
        { say: "done" },
      ],
      { tools: [echoTool], sinks: [metrics.sink] },
    );
    const result = await h.session().run("go");
    expect(result.stopReason.type).toBe("completed");

    const { api } = await startPrometheus(`127.0.0.1:${server.port}`);
    const echo = await until(
      () => query(api, 'rein_tool_calls_total{tool="echo",outcome="ok"}'),
      (r) => r.length === 1,
    );
    expect(echo).toHaveLength(1);
    expect(echo[0]!.value).toBe(4);
    expect(echo[0]!.labels).toMatchObject({ job: "rein", instance: `127.0.0.1:${server.port}` });
    const all = await query(api, "sum(rein_tool_calls_total)");
    expect(all[0]!.value).toBe(5);
    const denied = await query(api, 'rein_tool_calls_total{outcome="denied"}');
    expect(denied.map((r) => r.labels.tool)).toEqual(["_unknown"]);
    const rules = (await (await fetch(`${api}/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string }[] }[] };
    };
    const group = rules.data.groups.find((g) => g.name === "rein");
    expect(group?.rules.map((r) => r.name)).toHaveLength(7);
  });
});
