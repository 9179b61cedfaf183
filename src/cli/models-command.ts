import { PriceBook } from "../models/pricing.js";
import { providersWithKeys } from "../models/providers/provider-env.js";
import { PROVIDERS } from "../models/resolve-model.js";

export interface ModelListing {
  readonly checked: string;
  readonly unit: "USD per million tokens";
  readonly providers: {
    readonly name: string;
    readonly keyVariable: string | null;
    readonly keySet: boolean;
  }[];
  readonly models: {
    readonly id: string;
    readonly input: number;
    readonly output: number;
    readonly cacheRead: number;
    readonly cacheWrite: number;
  }[];
}

const KEY_VARIABLES: Record<string, string | null> = {
  anthropic: "ANTHROPIC_API_KEY",
  openai: "OPENAI_API_KEY",
  "openai-compatible": null,
  scripted: null,
};

/** What `rein models` shows: the price table (with its date) and which providers have a key set. */
export function modelListing(env: Readonly<Record<string, string | undefined>> = process.env): ModelListing {
  const book = new PriceBook();
  const withKeys = new Set<string>(providersWithKeys(env));
  return {
    checked: book.checked,
    unit: "USD per million tokens",
    providers: PROVIDERS.map((name) => ({
      name,
      keyVariable: KEY_VARIABLES[name] ?? null,
      keySet: withKeys.has(name),
    })),
    models: book
      .entries()
      .map(([id, p]) => ({
        id,
        input: p.input,
        output: p.output,
        cacheRead: p.cacheRead,
        cacheWrite: p.cacheWrite,
      }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  };
}

/** `rein models [--json]`. */
export function modelsCommand(options: { json: boolean }, out: NodeJS.WritableStream = process.stdout): void {
  const listing = modelListing();
  if (options.json) {
    out.write(`${JSON.stringify(listing)}\n`);
    return;
  }
  out.write("providers:\n");
  for (const p of listing.providers) {
    const key = p.keyVariable === null ? "no key needed" : `${p.keyVariable} ${p.keySet ? "set" : "not set"}`;
    out.write(`  ${p.name.padEnd(18)} ${key}\n`);
  }
  out.write(`\nmodels (USD per million tokens, prices checked ${listing.checked}):\n`);
  out.write(
    `  ${"model".padEnd(36)} ${"input".padStart(8)} ${"output".padStart(8)} ${"cache rd".padStart(9)} ${"cache wr".padStart(9)}\n`,
  );
  const n = (v: number, w: number) => String(v).padStart(w);
  for (const m of listing.models)
    out.write(
      `  ${m.id.padEnd(36)} ${n(m.input, 8)} ${n(m.output, 8)} ${n(m.cacheRead, 9)} ${n(m.cacheWrite, 9)}\n`,
    );
}
