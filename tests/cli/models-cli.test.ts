import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tempDir } from "../helpers.js";
import { type ProviderServer, startProviderServer } from "../models/loopback/provider-server.js";

const BIN = resolve(import.meta.dirname, "../../bin/rein.js");
const NO_KEYS = {
  ANTHROPIC_API_KEY: "",
  OPENAI_API_KEY: "",
  REIN_MODEL: "",
  ANTHROPIC_BASE_URL: "",
  OPENAI_BASE_URL: "",
};

/** Runs the real binary without blocking this process, so the loopback server can answer it. */
function rein(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? tempDir(),
      env: { ...process.env, NO_COLOR: "1", ...NO_KEYS, ...options.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe("rein models", () => {
  it("--json lists every priced model with its prices, the date checked, and which providers have a key", async () => {
    const r = await rein(["models", "--json"], { env: { OPENAI_API_KEY: "sk-test" } });
    expect(r.code).toBe(0);
    const listing = JSON.parse(r.stdout);
    expect(listing.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(listing.providers).toEqual(
      expect.arrayContaining([
        { name: "anthropic", keyVariable: "ANTHROPIC_API_KEY", keySet: false },
        { name: "openai", keyVariable: "OPENAI_API_KEY", keySet: true },
      ]),
    );
    expect(listing.models).toEqual(
      expect.arrayContaining([
        { id: "anthropic:claude-haiku-4-5", input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
      ]),
    );
  });

  it("prints a table for people", async () => {
    const r = await rein(["models"], { env: { ANTHROPIC_API_KEY: "sk-ant" } });
    expect(r.stdout).toMatch(/anthropic\s+ANTHROPIC_API_KEY set/);
    expect(r.stdout).toMatch(/openai\s+OPENAI_API_KEY not set/);
    expect(r.stdout).toMatch(/openai:gpt-4\.1\s+2\s+8\s+0\.5\s+0/);
  });
});

describe("rein run chooses a real model", () => {
  let server: ProviderServer;
  beforeEach(async () => {
    server = await startProviderServer("gpt-5.4-2026-03-05");
  });
  afterEach(async () => {
    await server.close();
  });

  it("uses the default model of the provider whose key is set (OpenAI Responses here), through its SDK", async () => {
    server.queue({ kind: "reply", text: "hello from the loopback" });
    const r = await rein(["run", "say hello", "--no-audit"], {
      env: { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${server.url}/v1` },
    });
    expect(r.stderr).toContain("model openai:gpt-5.4 (from OPENAI_API_KEY is set)");
    expect(r.stdout).toContain("hello from the loopback");
    expect(r.code).toBe(0);
    expect(server.requests[0]!.protocol).toBe("responses");
    expect(server.requests[0]!.body.model).toBe("gpt-5.4");
    expect(server.requests[0]!.headers.authorization).toBe("Bearer sk-test");
  });

  it("reads model, fallback and provider settings from rein.config.yaml, and REIN_MODEL wins over it", async () => {
    const cwd = tempDir();
    const down = await startProviderServer("x");
    try {
      writeFileSync(
        join(cwd, "rein.config.yaml"),
        [
          "model: openai-compatible:llama3.1",
          "fallback: [openai:gpt-4.1-mini]",
          "providers:",
          "  openai-compatible:",
          `    baseUrl: ${down.url}/v1`,
          "  openai:",
          "    api: chat",
          `    baseUrl: ${server.url}/v1`,
          "gateway:",
          "  retry: { maxRetries: 0 }",
          "",
        ].join("\n"),
      );
      down.queue({ kind: "error", status: 503 });
      server.queue({ kind: "reply", text: "answered by the fallback" });
      const r = await rein(["run", "hi", "--json", "--no-audit"], {
        cwd,
        env: { OPENAI_API_KEY: "sk-test" },
      });
      expect(r.code).toBe(0);
      const events = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(events.find((e) => e.type === "model_fallback")?.data).toMatchObject({
        from: "openai-compatible:llama3.1",
        to: "openai:gpt-4.1-mini",
        reason: "http_503",
      });
      expect(server.requests[0]!.protocol).toBe("chat");

      // The live view shows the gateway's work too.
      down.queue({ kind: "error", status: 503 });
      server.queue({ kind: "reply", text: "again from the fallback" });
      const live = await rein(["run", "hi", "--no-audit"], { cwd, env: { OPENAI_API_KEY: "sk-test" } });
      expect(live.stdout).toContain(
        "⇢ falling back from openai-compatible:llama3.1 to openai:gpt-4.1-mini (http_503)",
      );
      expect(live.stdout).toContain("again from the fallback");

      server.queue({ kind: "reply", text: "env wins" });
      const r2 = await rein(["run", "hi", "--no-audit"], {
        cwd,
        env: { OPENAI_API_KEY: "sk-test", REIN_MODEL: "openai:gpt-4.1" },
      });
      expect(r2.stderr).toContain("model openai:gpt-4.1 (from REIN_MODEL)");
      expect(server.requests[2]!.body.model).toBe("gpt-4.1");
    } finally {
      await down.close();
    }
  });

  it("--base-url points an openai-compatible model at its server, with no key needed", async () => {
    server.queue({ kind: "reply", text: "local model here" });
    const r = await rein([
      "run",
      "hi",
      "--model",
      "openai-compatible:qwen",
      "--base-url",
      `${server.url}/v1`,
      "--no-audit",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("local model here");
    expect(server.requests[0]!.body.model).toBe("qwen");
  });

  it("a bad config file is refused with the file, line and field", async () => {
    const cwd = tempDir();
    const file = join(cwd, "rein.config.yaml");
    writeFileSync(file, "model: openai:gpt-4.1\ngateway:\n  retry:\n    maxRetries: -1\n");
    const r = await rein(["run", "hi"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:4: gateway.retry.maxRetries:`);
    expect(r.stderr).toContain("REIN_CONFIG_INVALID");
  });

  it("a provider model without its key is refused before anything runs, naming the variable", async () => {
    const r = await rein(["run", "hi", "--model", "anthropic:claude-haiku-4-5"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("set ANTHROPIC_API_KEY");
    expect(r.stderr).toContain("REIN_MODEL_KEY_MISSING");
  });
});
