import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AnthropicModel, createHarness, type ReinError } from "../../src/index.js";
import { startProviderServer } from "./loopback/provider-server.js";

const DIST = pathToFileURL(resolve(import.meta.dirname, "../../dist/index.js")).href;

describe("provider keys and base URLs", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  for (const [spec, variable] of [
    ["anthropic:claude-sonnet-4-6", "ANTHROPIC_API_KEY"],
    ["openai:gpt-4.1", "OPENAI_API_KEY"],
  ] as const) {
    it(`a missing ${variable} fails createHarness with a ReinError naming the variable`, () => {
      vi.stubEnv(variable, "");
      let err: ReinError | undefined;
      try {
        createHarness({ model: spec, audit: false });
      } catch (e) {
        err = e as ReinError;
      }
      expect(err?.code).toBe("REIN_MODEL_KEY_MISSING");
      expect(err?.message).toContain(variable);
      expect(err?.details).toMatchObject({ variable, model: spec });
    });
  }

  it("a fallback model's key is checked when the chain is built, before any call", async () => {
    vi.stubEnv("ANTHROPIC_API_KEY", "sk-ant-test");
    vi.stubEnv("OPENAI_API_KEY", "");
    const { resolveModel } = await import("../../src/index.js");
    expect(() => resolveModel("anthropic:claude-sonnet-4-6", { fallback: ["openai:gpt-4.1-mini"] })).toThrow(
      /openai:gpt-4.1-mini needs an API key: set OPENAI_API_KEY/,
    );
  });

  it("an unknown fallback price fails createHarness, not the first fallback", async () => {
    vi.stubEnv("ANTHROPIC_API_KEY", "sk-ant-test");
    const { resolveModel } = await import("../../src/index.js");
    const model = resolveModel("anthropic:claude-sonnet-4-6", { fallback: ["anthropic:claude-unpriced-9"] });
    expect(() => createHarness({ model, audit: false })).toThrow(/anthropic:claude-unpriced-9/);
  });

  it("importing rein and creating harnesses loads no SDK; the first call does (the probe can fail)", () => {
    const script = `
      import { registerHooks } from "node:module";
      const loaded = new Set();
      registerHooks({ load(url, context, next) {
        const m = /node_modules\\/(@anthropic-ai\\/sdk|openai)\\//.exec(url);
        if (m) loaded.add(m[1]);
        return next(url, context);
      } });
      const rein = await import(${JSON.stringify(DIST)});
      rein.createHarness({ model: "anthropic:claude-sonnet-4-6", audit: false });
      rein.createHarness({ model: "openai:gpt-4.1", audit: false });
      const before = [...loaded];
      const request = { system: undefined, messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
        tools: [], maxTokens: 8, signal: new AbortController().signal };
      for (const spec of ["anthropic:claude-sonnet-4-6", "openai:gpt-4.1"])
        await rein.providerModel(spec).generate(request).catch(() => {});
      console.log(JSON.stringify({ before, after: [...loaded].sort() }));
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        ANTHROPIC_API_KEY: "sk-ant-test",
        OPENAI_API_KEY: "sk-test",
        // Port 9 (discard) on loopback refuses: the call fails fast, after loading the SDK.
        ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
        OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
      },
    });
    expect(child.stderr).toBe("");
    expect(JSON.parse(child.stdout)).toEqual({ before: [], after: ["@anthropic-ai/sdk", "openai"] });
  });

  it("base URLs come from ANTHROPIC_BASE_URL and OPENAI_BASE_URL, as the SDKs read them", async () => {
    const { providerModel } = await import("../../src/index.js");
    const env = {
      ANTHROPIC_API_KEY: "k",
      OPENAI_API_KEY: "k",
      ANTHROPIC_BASE_URL: "http://a.test",
      OPENAI_BASE_URL: "http://o.test/v1",
    };
    expect((providerModel("anthropic:claude-haiku-4-5", { env }) as { endpoint?: string }).endpoint).toBe(
      "anthropic@http://a.test",
    );
    expect((providerModel("openai:gpt-4.1", { env }) as { endpoint?: string }).endpoint).toBe(
      "openai@http://o.test/v1",
    );
  });

  it("sends only the key Rein checked: an ANTHROPIC_AUTH_TOKEN in the environment does not go along", async () => {
    vi.stubEnv("ANTHROPIC_AUTH_TOKEN", "secret-bearer-token");
    const server = await startProviderServer("claude-haiku-4-5");
    try {
      server.queue({ kind: "reply", text: "ok" });
      const model = new AnthropicModel({
        model: "claude-haiku-4-5",
        apiKey: "sk-ant-checked",
        baseURL: server.url,
        env: {},
      });
      await model.generate({
        system: undefined,
        messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
        tools: [],
        maxTokens: 8,
        signal: new AbortController().signal,
      });
      const headers = JSON.stringify(server.requests[0]!.headers);
      expect(headers).toContain("sk-ant-checked");
      expect(headers).not.toContain("secret-bearer-token");
    } finally {
      await server.close();
    }
  });
});
