import { describe, expect, it } from "vitest";
import { PriceBook } from "../../src/index.js";

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
