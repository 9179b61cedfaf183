import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { CircuitBreaker, createHarness, defineTool, type GuardContext, type Tool } from "../../src/index.js";
import { recordingSink, scriptedModel } from "../../src/testing.js";

/** A flaky external service: fails while `down` is true. */
function service() {
  const state = { down: true, calls: 0 };
  const tool = defineTool({
    name: "fetch_quote",
    description: "calls a flaky service",
    input: z.object({ n: z.number() }),
    risk: { level: "LOW", reason: "read-only" },
    readOnly: true,
    execute: ({ n }) => {
      state.calls++;
      if (state.down) throw new Error("503 service unavailable");
      return `quote ${n}`;
    },
  });
  return { tool, state };
}

const fetchTurn = (n: number) => ({ tool_calls: [{ tool: "fetch_quote", input: { n } }] });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-01-01T00:00:00Z"));
});
afterEach(() => {
  vi.useRealTimers();
});

describe("circuit breakers in a session", () => {
  it("opens after N failures, answers with a structured error, and ends the run with circuit_open if the model keeps calling", async () => {
    const { tool, state } = service();
    const sink = recordingSink();
    const h = createHarness({
      model: scriptedModel({
        name: "cb",
        turns: [...Array.from({ length: 10 }, (_, i) => fetchTurn(i)), { say: "done" }],
      }),
      tools: [tool],
      audit: false,
      sinks: [sink],
      guards: {
        circuitBreaker: { failureThreshold: 3, windowMs: 60_000, coolDownMs: 30_000, stopAfterRefusals: 2 },
      },
    });
    const r = await h.session().run("get quotes");
    expect(state.calls).toBe(3);
    expect(r.stopReason).toEqual({ type: "circuit_open", circuit: "fetch_quote" });
    expect(sink.ofType("circuit_changed").map((e) => [e.data.from, e.data.to, e.data.failures])).toEqual([
      ["closed", "open", 3],
    ]);
    const refused = JSON.parse((r.messages[8]!.content[0] as { content: string }).content);
    expect(refused.error).toMatchObject({
      type: "guard_denied",
      details: { circuit: "fetch_quote", state: "open", failures: 3, retryAfterMs: 30_000, refusedCalls: 1 },
    });
    expect(refused.error.message).toMatch(/The circuit for tool "fetch_quote" is open after 3 failures/);
    expect(r.turns).toBe(5);
  });

  it("failures spread wider than the window do not open it", async () => {
    const { tool } = service();
    const breaker = new CircuitBreaker({ failureThreshold: 3, windowMs: 10_000 });
    const h = createHarness({
      model: scriptedModel({
        name: "cb",
        turns: [...Array.from({ length: 6 }, (_, i) => fetchTurn(i)), { say: "done" }],
      }),
      tools: [tool],
      audit: false,
      guards: [breaker],
      hooks: { afterModelCall: () => void vi.advanceTimersByTime(6_000) },
    });
    const s = h.session();
    const r = await s.run("get quotes");
    expect(r.stopReason).toEqual({ type: "completed" });
    expect(breaker.stateOf("fetch_quote", { tenantId: "local", sessionId: s.id })).toBe("closed");
    expect(breaker.trackedOwners).toBe(1); // it did record the failures
  });
});

/** Drives a breaker directly through its hooks, with a fake clock: each transition observed exactly. */
function direct(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  const events: { type: string; data: unknown }[] = [];
  const breaker = new CircuitBreaker({
    failureThreshold: 2,
    windowMs: 1_000,
    coolDownMs: 5_000,
    stopAfterRefusals: 10,
    ...options,
  });
  const tool = { name: "svc", readOnly: true } as Tool;
  const ctx = (sessionId = "s1", turn = 1, runId = "r1"): GuardContext => ({
    tenantId: "t",
    sessionId,
    runId,
    turn,
    notify: (type, data) => events.push({ type, data }),
  });
  let id = 0;
  const before = (c = ctx()) => {
    const callId = `c${++id}`;
    return { callId, verdict: breaker.beforeToolCall({ tool, callId, input: {} }, c) };
  };
  const after = (callId: string, ok: boolean, c = ctx()) =>
    breaker.afterToolCall(
      { tool, callId, input: {} },
      { ok, errorType: ok ? null : "tool_error", content: "", flags: [] },
      c,
    );
  const fail = (c = ctx()) => after(before(c).callId, false, c);
  return { breaker, events, before, after, fail, ctx };
}

describe("CircuitBreaker: closed → open → half-open (one probe) → closed/open", () => {
  it("half-open after the cool-down lets exactly one probe through; concurrent callers are refused", () => {
    const d = direct();
    d.fail();
    d.fail();
    expect(d.breaker.stateOf("svc", d.ctx())).toBe("open");
    expect(d.before().verdict).toMatchObject({
      action: "deny",
      details: { state: "open", retryAfterMs: 5_000 },
    });
    vi.advanceTimersByTime(4_999);
    expect(d.before().verdict.action).toBe("deny");
    vi.advanceTimersByTime(1);
    const probe = d.before();
    expect(probe.verdict).toEqual({ action: "allow" });
    expect(d.breaker.stateOf("svc", d.ctx())).toBe("half_open");
    // Two more callers while the probe runs: both refused, never a second probe.
    const second = d.before();
    const third = d.before();
    expect(second.verdict).toMatchObject({ action: "deny", details: { state: "half_open" } });
    expect(third.verdict.action).toBe("deny");
    d.after(probe.callId, true);
    expect(d.breaker.stateOf("svc", d.ctx())).toBe("closed");
    expect(d.before().verdict).toEqual({ action: "allow" });
    expect(d.events.map((e) => (e.data as { to: string }).to)).toEqual(["open", "half_open", "closed"]);
  });

  it("a failed probe opens it again for another cool-down", () => {
    const d = direct();
    d.fail();
    d.fail();
    vi.advanceTimersByTime(5_000);
    const probe = d.before();
    d.after(probe.callId, false);
    expect(d.breaker.stateOf("svc", d.ctx())).toBe("open");
    expect(d.before().verdict).toMatchObject({ action: "deny", details: { retryAfterMs: 5_000 } });
    vi.advanceTimersByTime(5_000);
    expect(d.before().verdict).toEqual({ action: "allow" });
  });

  it("a probe that never reports back (denied later in the pipeline) is given up at the next turn or after probeTimeoutMs", () => {
    const d = direct({ probeTimeoutMs: 20_000 });
    d.fail();
    d.fail();
    vi.advanceTimersByTime(5_000);
    expect(d.before(d.ctx("s1", 1)).verdict.action).toBe("allow"); // never completes
    expect(d.before(d.ctx("s1", 1)).verdict.action).toBe("deny");
    expect(d.before(d.ctx("s1", 2)).verdict.action).toBe("allow"); // the next turn: the old probe never ran

    const shared = direct({ shared: true, probeTimeoutMs: 20_000 });
    shared.fail(shared.ctx("a"));
    shared.fail(shared.ctx("a"));
    vi.advanceTimersByTime(5_000);
    expect(shared.before(shared.ctx("a")).verdict.action).toBe("allow");
    expect(shared.before(shared.ctx("b")).verdict.action).toBe("deny");
    vi.advanceTimersByTime(20_000);
    expect(shared.before(shared.ctx("b")).verdict.action).toBe("allow");
  });

  it("only failures count: invalid input or a denial is not the service's fault", () => {
    const d = direct();
    for (let i = 0; i < 5; i++) {
      const { callId } = d.before();
      d.breaker.afterToolCall(
        { tool: { name: "svc" } as Tool, callId, input: {} },
        { ok: false, errorType: "not_found", content: "", flags: [] },
        d.ctx(),
      );
    }
    expect(d.breaker.stateOf("svc", d.ctx())).toBe("closed");
  });

  it("circuits are per session by default, shared across sessions on request; per-session state is released", () => {
    const own = direct();
    own.fail(own.ctx("a"));
    own.fail(own.ctx("a"));
    expect(own.before(own.ctx("a")).verdict.action).toBe("deny");
    expect(own.before(own.ctx("b")).verdict.action).toBe("allow");
    own.breaker.sessionEnded({ tenantId: "t", sessionId: "a" });
    own.breaker.sessionEnded({ tenantId: "t", sessionId: "b" });
    expect(own.breaker.trackedOwners).toBe(0);

    const shared = direct({ shared: ["svc"] });
    shared.fail(shared.ctx("a"));
    shared.fail(shared.ctx("a"));
    expect(shared.before(shared.ctx("b")).verdict).toMatchObject({
      action: "deny",
      details: { state: "open" },
    });
  });

  it("rejects a bad configuration", () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(/circuitBreaker\.failureThreshold/);
    expect(() => new CircuitBreaker({ tools: { svc: { coolDownMs: -1 } } })).toThrow(
      /circuitBreaker\.tools\.svc\.coolDownMs/,
    );
  });
});

describe("concurrent calls in one session see one probe", () => {
  it("two read-only calls of one turn in half-open: one probe runs, the other is refused", async () => {
    const { tool, state } = service();
    const sink = recordingSink();
    const h = createHarness({
      model: scriptedModel({
        name: "cb",
        turns: [
          fetchTurn(1),
          fetchTurn(2),
          {
            tool_calls: [
              { tool: "fetch_quote", input: { n: 3 } },
              { tool: "fetch_quote", input: { n: 4 } },
            ],
          },
          { say: "done" },
        ],
      }),
      tools: [tool],
      audit: false,
      sinks: [sink],
      guards: { circuitBreaker: { failureThreshold: 2, coolDownMs: 1_000 } },
      hooks: {
        afterModelCall: ({ turn }) => {
          if (turn === 3) {
            state.down = false;
            vi.advanceTimersByTime(1_000);
          }
        },
      },
      // The probe's result is compared with what the tool returned; spotlighting is tested in tests/security.
      security: { spotlight: false },
    });
    const r = await h.session().run("quotes");
    expect(r.stopReason).toEqual({ type: "completed" });
    expect(state.calls).toBe(3);
    const [probe, other] = r.messages[6]!.content as unknown as { content: string }[];
    expect(probe!.content).toBe("quote 3");
    expect(JSON.parse(other!.content).error.details.state).toBe("half_open");
    expect(sink.ofType("circuit_changed").map((e) => e.data.to)).toEqual(["open", "half_open", "closed"]);
  });
});
