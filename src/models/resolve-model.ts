import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ModelError, ScriptError } from "../protocol/errors.js";
import type { BreakerOptions } from "./gateway/circuit-breaker.js";
import { type GatewayState, gateway } from "./gateway/gateway.js";
import type { RateLimit } from "./gateway/rate-limit.js";
import type { RetryOptions } from "./gateway/retry.js";
import type { Model } from "./model.js";
import { AnthropicModel } from "./providers/anthropic/anthropic-model.js";
import { openaiModel } from "./providers/openai/openai-model.js";
import { openaiCompatibleModel } from "./providers/openai-compatible/openai-compatible-model.js";
import type { Env } from "./providers/provider-env.js";
import { scriptedModel } from "./providers/scripted/scripted-model.js";

/** Scripts bundled with Rein, usable as `scripted:<name>`. */
export const BUNDLED_SCRIPTS = ["demo"] as const;

/** The providers `resolveModel` knows. */
export const PROVIDERS = ["anthropic", "openai", "openai-compatible", "scripted"] as const;

/** The file of a bundled script. */
export function bundledScriptPath(name: string): string {
  return fileURLToPath(new URL(`../../assets/scripts/${name}.yaml`, import.meta.url));
}

/** Per-provider settings (the `providers` section of rein.config.yaml). */
export interface ProviderSettings {
  readonly anthropic?: {
    readonly baseUrl?: string;
    readonly promptCaching?: boolean;
    readonly stream?: boolean;
  };
  readonly openai?: {
    readonly baseUrl?: string;
    readonly api?: "responses" | "chat";
    readonly stream?: boolean;
  };
  readonly "openai-compatible"?: {
    readonly baseUrl?: string;
    readonly apiKeyEnv?: string;
    readonly stream?: boolean;
  };
}

/** The `gateway` section of rein.config.yaml. */
export interface GatewaySettings {
  readonly retry?: RetryOptions;
  readonly rateLimits?: Readonly<Record<string, RateLimit>>;
  readonly breaker?: BreakerOptions;
}

export interface ResolveModelOptions {
  readonly providers?: ProviderSettings;
  /** Models to fall back to, in order, after the one named. */
  readonly fallback?: readonly string[];
  readonly gateway?: GatewaySettings;
  /** Base URL for the named model's provider (the CLI's `--base-url`); wins over `providers`. */
  readonly baseUrl?: string;
  /** Where keys and base URLs are read from; default `process.env`. */
  readonly env?: Env;
  /** Breakers and rate limiters; default the process-wide state. */
  readonly gatewayState?: GatewayState;
}

/**
 * One provider model, without the gateway: `anthropic:<model>`, `openai:<model>`,
 * `openai-compatible:<model>` or `scripted:<name or file>`. A missing API key is an error here.
 */
export function providerModel(spec: string, options: ResolveModelOptions = {}): Model {
  const colon = spec.indexOf(":");
  const provider = colon > 0 ? spec.slice(0, colon) : spec;
  const name = colon > 0 ? spec.slice(colon + 1) : "";
  const env = options.env ?? process.env;
  const p = options.providers ?? {};
  if (provider === "scripted") return scripted(spec, name || "demo");
  if (provider !== "anthropic" && provider !== "openai" && provider !== "openai-compatible") {
    throw new ModelError(
      "REIN_MODEL_UNKNOWN",
      `Model "${spec}": provider "${provider}" is not available (known: ${PROVIDERS.join(", ")}). ` +
        `Write the model as <provider>:<model>, e.g. anthropic:claude-sonnet-4-6, or pass a Model object to createHarness.`,
      { model: spec, provider },
    );
  }
  if (name === "")
    throw new ModelError("REIN_MODEL_UNKNOWN", `Model "${spec}": name the model after "${provider}:".`, {
      model: spec,
    });
  if (provider === "anthropic") {
    const s = p.anthropic ?? {};
    return new AnthropicModel({
      model: name,
      env,
      ...optional("baseURL", options.baseUrl ?? s.baseUrl),
      ...optional("promptCaching", s.promptCaching),
      ...optional("stream", s.stream),
    });
  }
  if (provider === "openai") {
    const s = p.openai ?? {};
    return openaiModel({
      model: name,
      env,
      ...optional("baseURL", options.baseUrl ?? s.baseUrl),
      ...optional("api", s.api),
      ...optional("stream", s.stream),
    });
  }
  const s = p["openai-compatible"] ?? {};
  return openaiCompatibleModel({
    model: name,
    env,
    baseURL: options.baseUrl ?? s.baseUrl ?? "",
    ...optional("apiKeyEnv", s.apiKeyEnv),
    ...optional("stream", s.stream),
  });
}

/**
 * Turns a model string into a Model. Provider models (`anthropic:`, `openai:`, `openai-compatible:`)
 * come wrapped in the gateway (retries, breaker; fallback and rate limits when configured);
 * `scripted:<name>` plays a bundled script, `scripted:<path>` a script file.
 *
 * @example
 * const model = resolveModel("anthropic:claude-sonnet-4-6", { fallback: ["openai:gpt-4.1-mini"] });
 */
export function resolveModel(spec: string, options: ResolveModelOptions = {}): Model {
  const primary = providerModel(spec, options);
  if (spec.startsWith("scripted:") && !options.fallback?.length) return primary;
  // --base-url names the primary's server; fallbacks use their providers' settings.
  const { baseUrl: _primaryOnly, ...rest } = options;
  const chain = [primary, ...(options.fallback ?? []).map((f) => providerModel(f, rest))];
  const g = options.gateway ?? {};
  return gateway({
    models: chain,
    ...optional("retry", g.retry),
    ...optional("rateLimits", g.rateLimits),
    ...optional("breaker", g.breaker),
    ...optional("state", options.gatewayState),
  });
}

function scripted(spec: string, name: string): Model {
  if ((BUNDLED_SCRIPTS as readonly string[]).includes(name)) return scriptedModel(bundledScriptPath(name));
  if (!existsSync(name)) {
    // The provider is known (scripted); what is missing is the script, as docs/errors.md names it.
    throw new ScriptError(
      "REIN_SCRIPT_NOT_FOUND",
      `Model "${spec}": no bundled script named "${name}" (bundled: ${BUNDLED_SCRIPTS.join(", ")}) and no script file at ${name}.`,
      { file: name },
    );
  }
  return scriptedModel(name);
}

/** `{ key: value }` when the value is set, else `{}` (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
