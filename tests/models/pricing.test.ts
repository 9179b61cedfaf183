import { describe, expect, it } from "vitest";
import { PriceBook } from "../../src/index.js";
import { bundledPriceTable } from "../../src/models/pricing.js";

describe("PriceBook", () => {
  it("prices scripted models at $0 explicitly, through the provider wildcard", () => {
    expect(new PriceBook().priceOf("scripted:anything")).toMatchObject({ input: 0, output: 0 });
  });

  it("computes cost per million tokens including cache reads and writes", () => {
    const book = new PriceBook();
    const cost = book.cost("anthropic:claude-sonnet-4-5", {
      inputTokens: 1000,
      outputTokens: 2000,
      cacheReadTokens: 10_000,
      cacheWriteTokens: 4000,
    });
    expect(cost).toBeCloseTo((1000 * 3 + 2000 * 15 + 10_000 * 0.3 + 4000 * 3.75) / 1e6, 12);
    expect(book.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("an unknown model is an error naming it and the remedy", () => {
    expect(() => new PriceBook().priceOf("acme:x")).toThrow(
      /No price is known for model "acme:x". Add it to the harness option pricing.overrides/,
    );
  });

  it("refuses an invalid override, naming it", () => {
    expect(
      () => new PriceBook({ overrides: { "acme:x": { input: -1, output: 0, cacheRead: 0, cacheWrite: 0 } } }),
    ).toThrow(/pricing.overrides\["acme:x"\] is invalid: input/);
  });

  it("worst case is estimated input plus maxTokens of output", () => {
    expect(new PriceBook().worstCase("openai:gpt-4.1", 1000, 4096)).toBeCloseTo(
      (1000 * 2 + 4096 * 8) / 1e6,
      12,
    );
  });
});

describe("the bundled price table (models issue)", () => {
  it("covers current Anthropic and OpenAI models with cache prices, dated", () => {
    const table = bundledPriceTable();
    expect(table.checked).toBe("2026-11-30");
    for (const id of [
      "anthropic:claude-sonnet-4-6",
      "anthropic:claude-opus-4-8",
      "anthropic:claude-haiku-4-5",
      "openai:gpt-5.4",
      "openai:gpt-4.1-mini",
    ])
      expect(table.models[id], id).toBeDefined();
    for (const [id, p] of Object.entries(table.models)) {
      if (!id.startsWith("anthropic:") && !id.startsWith("openai:")) continue;
      expect(p.cacheRead, `${id} cache reads cost less than input`).toBeLessThan(p.input);
      if (id.startsWith("anthropic:"))
        expect(p.cacheWrite, `${id} cache writes cost more than input`).toBeGreaterThan(p.input);
      else expect(p.cacheWrite, `${id}: OpenAI charges no cache writes`).toBe(0);
    }
    const book = new PriceBook();
    expect(book.find("anthropic:claude-sonnet-4-6-20260217")).toEqual(
      book.find("anthropic:claude-sonnet-4-6"),
    );
    expect(book.find("openai:gpt-4.1-2025-04-14")).toEqual(book.find("openai:gpt-4.1"));
    expect(book.find("openai:gpt-4.1-turbo")).toBeUndefined();
  });
});
