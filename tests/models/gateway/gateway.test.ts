import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../../src/models/gateway/circuit-breaker.js";
import { countsAsOutage, fallsBack } from "../../../src/models/gateway/fallback.js";
import { TokenBucket } from "../../../src/models/gateway/rate-limit.js";
import { retryDecision } from "../../../src/models/gateway/retry.js";
import { openaiCompatibleModel } from "../../../src/models/providers/openai-compatible/openai-compatible-model.js";
import { recordingSink } from "../../../src/testing.js";
import { fakeClock } from "../loopback/fake-clock.js";
import {
  createHarness,
  GatewayState,
  gateway,
  type Model,
  type ModelRequest,
  ProviderCallError,
  retryAfterFromForTest,
} from "./gateway-fixtures.js";

const usage = (input = 100, output = 10) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
});

/** A provider-like model that plays answers in order (a value, or a ProviderCallError to throw). */
function playing(
  id: string,
  answers: (string | ProviderCallError)[],
  provider = id.slice(0, id.indexOf(":")),
  used = usage(),
) {
  const calls: ModelRequest[] = [];
  const model: Model & { provider: string; endpoint: string } = {
    id,
    provider,
    endpoint: `${provider}@test`,
    async generate(request) {
      calls.push(request);
      const next = answers.shift();
      if (next === undefined || next instanceof ProviderCallError)
        throw next ?? new Error("no answer queued");
      return { content: [{ type: "text", text: next }], stopReason: "end_turn", usage: used, model: id };
    },
  };
  return { model, calls };
}

const http = (
  model: string,
  status: number,
  extra: Partial<ConstructorParameters<typeof ProviderCallError>[1]> = {},
) => new ProviderCallError(model, { failure: "http", status, message: `HTTP ${status}`, ...extra });

describe("retry decisions", () => {
  it("retries 408, 409, 429, 5xx, 529 and connection failures; not 400, 401, 403, 404, 422", () => {
    const d = (err: unknown) => retryDecision(err, 1, {}, () => 0.5).retry;
    for (const s of [408, 409, 429, 500, 502, 503, 529]) expect(d(http("m", s))).toBe(true);
    expect(d(new ProviderCallError("m", { failure: "connection", message: "ECONNRESET" }))).toBe(true);
    for (const s of [400, 401, 403, 404, 413, 422]) expect(d(http("m", s))).toBe(false);
    expect(d(new ProviderCallError("m", { failure: "malformed", message: "bad json" }))).toBe(false);
    expect(d(new Error("a bug"))).toBe(false);
  });

  it("never retries once text was delivered", () => {
    expect(retryDecision(http("m", 503, { delivered: true }), 1, {}).retry).toBe(false);
  });

  it("uses full jitter under an exponential ceiling, capped at maxDelayMs, and stops after maxRetries", () => {
    const o = { baseDelayMs: 100, maxDelayMs: 350, maxRetries: 3 };
    expect([1, 2, 3].map((a) => retryDecision(http("m", 500), a, o, () => 0.999).delayMs)).toEqual([
      99, 199, 349,
    ]);
    expect(retryDecision(http("m", 500), 1, o, () => 0).delayMs).toBe(0);
    expect(retryDecision(http("m", 500), 4, o).retry).toBe(false);
  });

  it("honours Retry-After, and does not wait one longer than maxRetryAfterMs", () => {
    expect(retryDecision(http("m", 429, { retryAfterMs: 3000 }), 1, {})).toEqual({
      retry: true,
      delayMs: 3000,
      retryAfter: true,
    });
    expect(
      retryDecision(http("m", 429, { retryAfterMs: 120_000 }), 1, { maxRetryAfterMs: 60_000 }).retry,
    ).toBe(false);
  });

  it("reads retry-after-ms first, then Retry-After as seconds or an HTTP date", () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(retryAfterFromForTest(h({ "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
    expect(retryAfterFromForTest(h({ "retry-after": "3" }))).toBe(3000);
    expect(
      retryAfterFromForTest(h({ "retry-after": new Date(10_000 + 4_000).toUTCString() }), () => 10_000),
    ).toBe(4000);
    expect(retryAfterFromForTest(h({ "retry-after": "soon" }))).toBe(null);
    expect(retryAfterFromForTest(h({}))).toBe(null);
  });
});

describe("circuit breaker", () => {
  it("closed → open after N consecutive failures; a success in between resets the count", () => {
    const b = new CircuitBreaker("e", { failureThreshold: 3, cooldownMs: 100 });
    b.failure(0);
    b.failure(0);
    b.success();
    b.failure(0);
    b.failure(0);
    expect(b.state).toBe("closed");
    expect(b.failure(0)).toEqual({ from: "closed", to: "open", consecutiveFailures: 3 });
    expect(b.admit(99).ok).toBe(false);
  });

  it("half-open lets exactly one probe through; its failure reopens, its success closes", () => {
    const b = new CircuitBreaker("e", { failureThreshold: 1, cooldownMs: 100 });
    b.failure(0);
    expect(b.admit(100)).toEqual({
      ok: true,
      change: { from: "open", to: "half_open", consecutiveFailures: 1 },
    });
    expect(b.admit(100).ok).toBe(false);
    expect(b.failure(150)?.to).toBe("open");
    expect(b.admit(200).ok).toBe(false);
    expect(b.admit(250).ok).toBe(true);
    expect(b.success()?.to).toBe("closed");
    expect(b.admit(250).ok).toBe(true);
  });
});

describe("token bucket", () => {
  it("waits for the refill when short, and queues takers fairly by debiting at once", () => {
    const bucket = new TokenBucket(60, 0); // one a second
    for (let i = 0; i < 60; i++) expect(bucket.take(1, 0)).toBe(0);
    expect(bucket.take(1, 0)).toBe(1000);
    expect(bucket.take(1, 0)).toBe(2000);
    expect(bucket.take(1, 3000)).toBe(0);
  });
});

describe("gateway", () => {
  it("falls back on a 429 that outlasts its retries, reserving each attempt at its own model's price", async () => {
    const primary = playing("anthropic:claude-opus-4-1", [
      http("anthropic:claude-opus-4-1", 429),
      http("anthropic:claude-opus-4-1", 429),
    ]);
    const cheap = playing("openai:gpt-4.1-mini", ["from the fallback"]);
    const clock = fakeClock();
    const sink = recordingSink();
    const reserved: { model: string; usd: number }[] = [];
    const harness = createHarness({
      model: gateway({
        models: [primary.model, cheap.model],
        clock,
        state: new GatewayState(),
        retry: { maxRetries: 1 },
        random: () => 0,
      }),
      audit: false,
      sinks: [sink],
    });
    const ledger = harness.ledger;
    const reserve = ledger.reserve.bind(ledger);
    ledger.reserve = (scope, entry) => {
      reserved.push({ model: entry.model, usd: entry.estimateUsd });
      reserve(scope, entry);
    };
    const session = harness.session();
    const result = await session.run("go");
    expect(result.finalText).toBe("from the fallback");
    // 4096 max tokens of output at each model's price: opus 4.1 $75/M, gpt-4.1-mini $1.60/M.
    // Each attempt reserves maxTokens of output plus the same input estimate, at its own model's prices
    // (input at the dearer of input and cache write): opus 4.1 18.75/75, gpt-4.1-mini 0.40/1.60 per million.
    expect(reserved.map((r) => r.model)).toEqual([
      "anthropic:claude-opus-4-1",
      "anthropic:claude-opus-4-1",
      "openai:gpt-4.1-mini",
    ]);
    const inputTokens = (reserved[0]!.usd * 1e6 - 4096 * 75) / 18.75;
    expect(inputTokens).toBeGreaterThan(0);
    expect(reserved[1]!.usd).toBe(reserved[0]!.usd);
    expect(reserved[2]!.usd).toBeCloseTo((inputTokens * 0.4 + 4096 * 1.6) / 1e6, 12);
    expect(sink.ofType("model_fallback").map((e) => e.data)).toEqual([
      { turn: 1, from: "anthropic:claude-opus-4-1", to: "openai:gpt-4.1-mini", reason: "http_429" },
    ]);
    const totals = ledger.totals({ tenantId: "local", sessionId: session.id });
    expect(totals).toMatchObject({ reservedUsd: 0, calls: 1 });
    expect(totals.costUsd).toBeCloseTo((100 * 0.4 + 10 * 1.6) / 1e6, 12);
    expect(sink.ofType("model_call_finished")[0]!.data.model).toBe("openai:gpt-4.1-mini");
  });

  it("does not fall back on a 401: the key is wrong, not the provider down", async () => {
    const primary = playing("anthropic:claude-haiku-4-5", [http("anthropic:claude-haiku-4-5", 401)]);
    const other = playing("openai:gpt-4.1-mini", ["unused"]);
    const harness = createHarness({
      model: gateway({ models: [primary.model, other.model], clock: fakeClock(), state: new GatewayState() }),
      audit: false,
    });
    const result = await harness.session().run("go");
    expect(result.stopReason).toMatchObject({ type: "error", code: "REIN_MODEL_CALL_FAILED" });
    expect(other.calls).toHaveLength(0);
  });

  it("skips a model whose breaker is open and says so in a fallback event", async () => {
    const state = new GatewayState();
    const down = playing("anthropic:claude-haiku-4-5", [http("anthropic:claude-haiku-4-5", 500)]);
    const up = playing("openai:gpt-4.1-mini", ["a", "b"]);
    const clock = fakeClock();
    const sink = recordingSink();
    const harness = createHarness({
      model: gateway({
        models: [down.model, up.model],
        clock,
        state,
        retry: { maxRetries: 0 },
        breaker: { failureThreshold: 1 },
      }),
      audit: false,
      sinks: [sink],
    });
    await harness.session().run("first");
    await harness.session().run("second");
    expect(down.calls).toHaveLength(1);
    expect(sink.ofType("model_fallback").map((e) => e.data.reason)).toEqual(["http_500", "circuit_open"]);
  });

  it("rate limits are shared by every session of the process and waits are events", async () => {
    const state = new GatewayState();
    const clock = fakeClock();
    const a = playing("openai:gpt-4.1-mini", ["1", "2", "3"]);
    const sink = recordingSink();
    const make = () =>
      createHarness({
        model: gateway({ models: [a.model], clock, state, rateLimits: { openai: { requestsPerMinute: 2 } } }),
        audit: false,
        sinks: [sink],
      });
    await make().session().run("one");
    await make().session().run("two");
    await make().session().run("three");
    expect(clock.sleeps).toEqual([30_000]);
    expect(sink.ofType("model_rate_wait").map((e) => e.data)).toEqual([
      { turn: 1, model: "openai:gpt-4.1-mini", bucket: "openai", waitMs: 30_000, limit: "requests" },
    ]);
  });

  it("a token-per-minute wait is bounded by the call's timeout: the run stops with a model_call timeout", async () => {
    const a = playing("openai:gpt-4.1-mini", ["1", "2"], "openai", usage(2_900, 10));
    const harness = createHarness({
      model: gateway({
        models: [a.model],
        state: new GatewayState(),
        rateLimits: { openai: { tokensPerMinute: 5_000 } },
      }),
      audit: false,
      maxTokens: 4096,
      limits: { modelCallTimeoutMs: 100 },
    });
    expect((await harness.session().run("one")).stopReason).toEqual({ type: "completed" });
    // The first call took ~4,100 tokens and used 2,910: ~2,090 are left, the second needs ~4,100 (a ~24 s wait), cut at 100 ms.
    const second = await harness.session().run("two");
    expect(second.stopReason).toEqual({ type: "timeout", scope: "model_call", limitMs: 100 });
    expect(a.calls).toHaveLength(1);
  });

  it("reports REIN_MODEL_CIRCUIT_OPEN when every model's breaker is open", async () => {
    const state = new GatewayState();
    const m = playing("openai:gpt-4.1-mini", [http("openai:gpt-4.1-mini", 503)]);
    const harness = createHarness({
      model: gateway({
        models: [m.model],
        clock: fakeClock(),
        state,
        retry: { maxRetries: 0 },
        breaker: { failureThreshold: 1 },
      }),
      audit: false,
    });
    await harness.session().run("fails");
    const refused = await harness.session().run("refused");
    expect(refused.stopReason).toMatchObject({ type: "error", code: "REIN_MODEL_CIRCUIT_OPEN" });
    expect((refused.stopReason as { message: string }).message).toContain("openai@test");
  });

  it("prices an answer from a snapshot the price book lacks as the model that was asked", async () => {
    const m = playing("openai:gpt-4.1-mini", ["hi"]);
    const original = m.model.generate.bind(m.model);
    m.model.generate = async (r) => ({ ...(await original(r)), model: "openai:gpt-4.1-mini-preview-xyz" });
    const harness = createHarness({
      model: gateway({ models: [m.model], state: new GatewayState() }),
      audit: false,
    });
    const result = await harness.session().run("go");
    expect(result.stopReason).toEqual({ type: "completed" });
    expect(result.costUsd).toBeCloseTo((100 * 0.4 + 10 * 1.6) / 1e6, 12);
  });

  it("falls back on a malformed answer and counts it against the breaker; a 429 or 4xx is no outage", () => {
    const malformed = new ProviderCallError("m", { failure: "malformed", message: "bad json" });
    expect(fallsBack(malformed)).toBe(true);
    expect(countsAsOutage(malformed)).toBe(true);
    expect(countsAsOutage(new ProviderCallError("m", { failure: "connection", message: "reset" }))).toBe(
      true,
    );
    for (const s of [500, 503, 529, 408]) expect(countsAsOutage(http("m", s))).toBe(true);
    for (const s of [429, 400, 401, 404]) expect(countsAsOutage(http("m", s))).toBe(false);
    for (const s of [400, 401, 403, 404, 422]) expect(fallsBack(http("m", s))).toBe(false);
    expect(fallsBack(http("m", 429, { retryAfterMs: 120_000 }))).toBe(true);
    expect(fallsBack(http("m", 503, { delivered: true }))).toBe(false);
  });

  it("an openai-compatible server's apiKeyEnv, when set, must be present", () => {
    expect(() =>
      openaiCompatibleModel({ model: "m", baseURL: "http://127.0.0.1:1/v1", apiKeyEnv: "VLLM_KEY", env: {} }),
    ).toThrow(/set VLLM_KEY/);
    expect(() =>
      openaiCompatibleModel({
        model: "m",
        baseURL: "http://127.0.0.1:1/v1",
        apiKeyEnv: "VLLM_KEY",
        env: { VLLM_KEY: "k" },
      }),
    ).not.toThrow();
  });

  it("a model that claims to account its attempts but begins none is still settled in the ledger", async () => {
    const m = playing("openai:gpt-4.1-mini", ["hi"]);
    const sneaky = { ...m.model, generate: m.model.generate, accountsAttempts: true };
    const harness = createHarness({ model: sneaky, audit: false });
    const session = harness.session();
    const result = await session.run("go");
    expect(result.stopReason).toEqual({ type: "completed" });
    const totals = harness.ledger.totals({ tenantId: "local", sessionId: session.id });
    expect(totals).toMatchObject({ calls: 1, reservedUsd: 0 });
    expect(totals.costUsd).toBeCloseTo((100 * 0.4 + 10 * 1.6) / 1e6, 12);
  });
});
