import { z } from "zod/v4";
import { ConfigError, PriceUnknownError } from "../protocol/errors.js";
import type { Usage } from "../protocol/messages.js";
import { formatIssues } from "../protocol/zod-issues.js";
import bundledTable from "./pricing.json" with { type: "json" };

/** USD per million tokens. */
export interface Price {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
}

export const PriceSchema = z.strictObject({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cacheRead: z.number().nonnegative(),
  cacheWrite: z.number().nonnegative(),
  note: z.string().optional(),
});

const TableSchema = z.strictObject({
  unit: z.literal("USD per million tokens"),
  checked: z.iso.date(),
  source: z.string(),
  models: z.record(z.string(), PriceSchema),
});

export type PriceTable = z.infer<typeof TableSchema>;

let cachedTable: PriceTable | undefined;

/** The bundled price table (data in `pricing.json`, with the date its prices were checked). */
export function bundledPriceTable(): PriceTable {
  cachedTable ??= TableSchema.parse(bundledTable);
  return cachedTable;
}

export interface PriceBookOptions {
  /** Prices for models missing from the table, or to override it. Keys are model ids (`provider:model`, or `provider:*`). */
  readonly overrides?: Readonly<Record<string, Price>>;
  /** What to do with a model that has no price: `error` (default) or `zero`, an explicit choice to count it as free. */
  readonly onUnknown?: "error" | "zero";
}

/** Model ids whose fallback lookup is remembered, at most (ids come from providers' answers). */
const MAX_RESOLVED = 256;

/** Looks up prices and computes costs. An unknown model is an error unless the caller chose otherwise. */
export class PriceBook {
  readonly checked: string;
  readonly #prices = new Map<string, Price>();
  /** Ids found through a fallback (dated snapshot, `provider:*`) or not at all; the table never changes after construction. */
  readonly #resolved = new Map<string, Price | null>();
  readonly #onUnknown: "error" | "zero";

  constructor(options: PriceBookOptions = {}, table: PriceTable = bundledPriceTable()) {
    this.checked = table.checked;
    for (const [id, price] of Object.entries(table.models)) this.#prices.set(id, price);
    for (const [id, price] of Object.entries(options.overrides ?? {})) {
      const parsed = PriceSchema.safeParse(price);
      if (!parsed.success) {
        throw new ConfigError(
          `pricing.overrides["${id}"] is invalid: ${formatIssues(parsed.error.issues).join("; ")}`,
          {
            field: `pricing.overrides.${id}`,
          },
        );
      }
      this.#prices.set(id, parsed.data);
    }
    this.#onUnknown = options.onUnknown ?? "error";
  }

  /** The price of a model, or undefined. Exact id first, then `provider:*`. */
  find(model: string): Price | undefined {
    const exact = this.#prices.get(model);
    if (exact) return exact;
    // Asked twice per model call (reservation, settlement): the fallbacks are resolved once per id.
    const known = this.#resolved.get(model);
    if (known !== undefined) return known ?? undefined;
    const found = this.#fallback(model);
    if (this.#resolved.size < MAX_RESOLVED) this.#resolved.set(model, found ?? null);
    return found;
  }

  #fallback(model: string): Price | undefined {
    // Providers answer with dated snapshots (`claude-sonnet-4-5-20250929`, `gpt-4.1-2025-04-14`) of the alias priced here.
    const undated = model.replace(/-(\d{8}|\d{4}-\d{2}-\d{2})$/, "");
    if (undated !== model) {
      const alias = this.#prices.get(undated);
      if (alias) return alias;
    }
    const colon = model.indexOf(":");
    return colon > 0 ? this.#prices.get(`${model.slice(0, colon)}:*`) : undefined;
  }

  /** Every priced model id, for listings (`rein models`). */
  entries(): [string, Price][] {
    return [...this.#prices];
  }

  /** The price of a model; throws `PriceUnknownError` unless `onUnknown` is `zero`. */
  priceOf(model: string): Price {
    const price = this.find(model);
    if (price) return price;
    if (this.#onUnknown === "zero") return { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
    throw new PriceUnknownError(model);
  }

  /** Cost in USD of one call's usage. Input tokens exclude cache reads and writes (Anthropic's convention). */
  cost(model: string, usage: Usage): number {
    const p = this.priceOf(model);
    return (
      (usage.inputTokens * p.input +
        usage.outputTokens * p.output +
        usage.cacheReadTokens * p.cacheRead +
        usage.cacheWriteTokens * p.cacheWrite) /
      1_000_000
    );
  }

  /**
   * The most a call can cost before it is made: its estimated input, all billed at the dearer of the
   * input and cache-write prices (a prompt cache may write all of it), plus `maxTokens` of output.
   */
  worstCase(model: string, estimatedInputTokens: number, maxTokens: number): number {
    const p = this.priceOf(model);
    return (estimatedInputTokens * Math.max(p.input, p.cacheWrite) + maxTokens * p.output) / 1_000_000;
  }
}
