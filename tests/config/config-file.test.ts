import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findConfigFile, loadConfigFile, parseConfig } from "../../src/config/config-file.js";
import type { ConfigError } from "../../src/index.js";
import { tempDir } from "../helpers.js";

function errorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error("expected an error");
}

describe("rein.config.yaml", () => {
  it("parses a full file into the typed config, with defaults for what is absent", () => {
    const config = parseConfig(
      [
        "model: anthropic:claude-sonnet-4-6",
        "fallback: [openai:gpt-4.1-mini]",
        "providers:",
        "  openai: { api: chat }",
        "  openai-compatible: { baseUrl: 'http://localhost:11434/v1', apiKeyEnv: OLLAMA_KEY }",
        "gateway:",
        "  retry: { maxRetries: 3, baseDelayMs: 250 }",
        "  rateLimits: { anthropic: { requestsPerMinute: 50, tokensPerMinute: 40000 } }",
        "  breaker: { failureThreshold: 4, cooldownMs: 10000 }",
      ].join("\n"),
      "rein.config.yaml",
    );
    expect(config).toEqual({
      model: "anthropic:claude-sonnet-4-6",
      fallback: ["openai:gpt-4.1-mini"],
      providers: {
        openai: { api: "chat" },
        "openai-compatible": { baseUrl: "http://localhost:11434/v1", apiKeyEnv: "OLLAMA_KEY" },
      },
      gateway: {
        retry: { maxRetries: 3, baseDelayMs: 250 },
        rateLimits: { anthropic: { requestsPerMinute: 50, tokensPerMinute: 40000 } },
        breaker: { failureThreshold: 4, cooldownMs: 10000 },
      },
    });
    expect(parseConfig("", "empty.yaml")).toEqual({ fallback: [], providers: {}, gateway: {} });
  });

  it("names the file, line and field of each invalid value", () => {
    const err = errorOf(() =>
      parseConfig(
        "model: openai:gpt-4.1\nproviders:\n  openai:\n    api: completions\n    baseUrl: ftp://x\n",
        "/p/rein.config.yaml",
      ),
    );
    expect(err.code).toBe("REIN_CONFIG_INVALID");
    expect(err.message).toContain("/p/rein.config.yaml:4: providers.openai.api:");
    expect(err.message).toContain("/p/rein.config.yaml:5: providers.openai.baseUrl: expected an http(s) URL");
  });

  it("refuses unknown keys (a typo is not silently ignored)", () => {
    const err = errorOf(() => parseConfig("model: x\ngateway:\n  retries: { maxRetries: 1 }\n", "c.yaml"));
    expect(err.message).toMatch(/c\.yaml:3: gateway: .*retries/);
  });

  it("reports YAML syntax errors with their line", () => {
    const err = errorOf(() => parseConfig("model: a\nfallback: [b\n", "bad.yaml"));
    expect(err.message).toMatch(/^bad\.yaml:\d+: not valid YAML/);
  });

  it("is found in a directory as rein.config.yaml or .yml, and loaded from disk", () => {
    const dir = tempDir();
    expect(findConfigFile(dir)).toBeUndefined();
    writeFileSync(join(dir, "rein.config.yml"), "model: scripted:demo\n");
    const file = findConfigFile(dir);
    expect(file).toBe(join(dir, "rein.config.yml"));
    expect(loadConfigFile(file as string).model).toBe("scripted:demo");
  });
});
