import { randomBytes } from "node:crypto";
import type { IdGenerator, Sampler, SpanLimits } from "@opentelemetry/sdk-trace-base";

type SdkTraceBase = typeof import("@opentelemetry/sdk-trace-base");

/**
 * The tracer's settings from the standard `OTEL_*` variables, read once by Rein and handed to the SDK's
 * provider too, so the run's span (made by the SDK) and its children (see FinishedSpanRecorder) follow
 * the same sampler and limits. The rules are the SDK's own (sdk-trace-base `loadDefaultConfig`,
 * `buildSamplerFromEnv`, `reconfigureLimits`).
 */

/** A number from the environment; blank or not a number is unset. */
function numberFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  return Number.isNaN(n) ? undefined : n;
}

/**
 * `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG`). Unset: AlwaysOn, which keeps every span as
 * the SDK's default parent-based sampler does (Rein's spans have a sampled root) without asking a parent.
 */
export function samplerFromEnv(sdk: SdkTraceBase, env: NodeJS.ProcessEnv = process.env): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim();
  const ratio = () => {
    const p = numberFromEnv(env, "OTEL_TRACES_SAMPLER_ARG");
    return p === undefined || p < 0 || p > 1 ? 1 : p;
  };
  switch (name) {
    case undefined:
    case "":
    case "always_on":
      return new sdk.AlwaysOnSampler();
    case "always_off":
      return new sdk.AlwaysOffSampler();
    case "parentbased_always_off":
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case "traceidratio":
      return new sdk.TraceIdRatioBasedSampler(ratio());
    case "parentbased_traceidratio":
      return new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(ratio()) });
    default: // parentbased_always_on, and (as the SDK does) any value it does not know
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
  }
}

/** Every span limit, from `OTEL_SPAN_*_LIMIT` (then `OTEL_ATTRIBUTE_*_LIMIT`), else the SDK's defaults. */
export function spanLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): Required<SpanLimits> {
  const n = (name: string) => numberFromEnv(env, name);
  return {
    attributeCountLimit: n("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") ?? n("OTEL_ATTRIBUTE_COUNT_LIMIT") ?? 128,
    attributeValueLengthLimit:
      n("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") ?? n("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") ?? Infinity,
    linkCountLimit: n("OTEL_SPAN_LINK_COUNT_LIMIT") ?? 128,
    eventCountLimit: n("OTEL_SPAN_EVENT_COUNT_LIMIT") ?? 128,
    attributePerEventCountLimit: n("OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT") ?? 128,
    attributePerLinkCountLimit: n("OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT") ?? 128,
  };
}

/**
 * Random W3C trace and span ids, as lowercase hex, cut from a pool of `crypto.randomBytes`: one
 * substring per id instead of the SDK generator's `Math.random` calls, buffer writes and hex encoding.
 */
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);

export class PooledIdGenerator implements IdGenerator {
  #pool = "";
  #at = 0;

  #next(chars: number): string {
    for (;;) {
      if (this.#at + chars > this.#pool.length) {
        this.#pool = randomBytes(2048).toString("hex");
        this.#at = 0;
      }
      const id = this.#pool.slice(this.#at, this.#at + chars);
      this.#at += chars;
      // An all-zero id is invalid (W3C Trace Context): draw again (odds 2^-64 for a span id).
      if (id !== (chars === 32 ? ZERO_TRACE_ID : ZERO_SPAN_ID)) return id;
    }
  }

  generateTraceId(): string {
    return this.#next(32);
  }

  generateSpanId(): string {
    return this.#next(16);
  }
}
