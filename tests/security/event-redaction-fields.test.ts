import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createHarness,
  defineTool,
  EventRedactor,
  type EventType,
  type Guard,
  type Model,
  type ModelRequest,
  type ModelResponse,
  type ReinEvent,
  SecretRedactor,
} from "../../src/index.js";
import { eventShape } from "../../src/security/event-redactor.js";
import { recordingSink } from "../../src/testing.js";
import { tempDir } from "../helpers.js";

/**
 * The event filter knows the harness's field names and remembers shared frozen records by identity
 * (event-redactor.ts). These tests plant a secret in every place of every event a user, a tool or a
 * model can reach, and check it never comes out: were a field skipped that should not be, they fail.
 */
const SECRET = "zq7Rv2mK9pL4wXb8";
const AWS = "AKIAIOSFODNN7EXAMPLE";

/** A model whose every output carries the secret: ids, tool names, inputs, text, usage, its events. */
function plantingModel(): Model {
  let turn = 0;
  return {
    id: "planting:model",
    generate(request: ModelRequest): Promise<ModelResponse> {
      turn++;
      request.onEvent?.({
        type: "model_retry",
        data: {
          model: "planting:model",
          attempt: 1,
          delayMs: 0,
          status: 503,
          reason: `upstream said ${SECRET}`,
          retryAfter: false,
        },
      });
      if (turn > 1)
        return Promise.resolve({
          content: [{ type: "text", text: `all done, the key was ${SECRET} and ${AWS}` }],
          stopReason: "end_turn",
          usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
          model: "planting:model",
        });
      return Promise.resolve({
        content: [
          { type: "text", text: `calling with ${SECRET}` },
          { type: "tool_use", id: `call-${SECRET}`, name: "echo", input: { text: `in ${SECRET}` } },
          { type: "tool_use", id: "call-2", name: `tool_${SECRET}`, input: {} },
          { type: "tool_use", id: "call-3", name: "boom", input: {} },
          { type: "tool_use", id: "call-4", name: "gated", input: { note: AWS } },
          { type: "tool_use", id: "call-5", name: "rewritten", input: { v: "plain" } },
        ],
        stopReason: "tool_use",
        // A field the harness does not define, from a model it does not control.
        usage: {
          inputTokens: 1,
          outputTokens: 1,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          [`n_${SECRET}`]: SECRET,
        } as never,
        model: `planting:${SECRET}`,
      });
    },
  };
}

const tools = [
  defineTool({
    name: "echo",
    description: "echoes",
    input: z.object({ text: z.string() }),
    risk: { level: "LOW", reason: "read-only" },
    execute: ({ text }) => `echo: ${text}`,
  }),
  defineTool({
    name: "boom",
    description: "throws",
    input: z.object({}),
    risk: { level: "LOW", reason: "read-only" },
    execute: () => {
      throw new Error(`could not connect with ${SECRET}`);
    },
  }),
  defineTool({
    name: "gated",
    description: "denied by a hook",
    input: z.object({ note: z.string() }),
    risk: { level: "LOW", reason: "read-only" },
    execute: () => "never",
  }),
  defineTool({
    name: "rewritten",
    description: "its input is rewritten by a hook",
    input: z.object({ v: z.string() }),
    risk: { level: "LOW", reason: "read-only" },
    execute: ({ v }) => `got ${v}`,
  }),
];

/** A guard that writes the secret into an event of its own and into a deny reason. */
const plantingGuard: Guard = {
  name: "planting",
  beforeToolCall(call, context) {
    if (call.tool.name !== "echo") return { action: "allow" };
    context.notify("stall_warning", {
      turn: context.turn,
      kind: "cycle",
      cycle: [`echo {"text":"${SECRET}"}`],
      repeats: 2,
      diagnostic: `repeating ${SECRET}`,
    });
    return { action: "allow" };
  },
};

describe("every user-reachable field of every event is redacted", () => {
  it("a secret planted by the model, a tool, a hook, a policy and a guard reaches no sink", async () => {
    const sink = recordingSink();
    const audit = tempDir("rein-sec-fields-");
    const h = createHarness({
      model: plantingModel(),
      tools,
      guards: [plantingGuard],
      policy: {
        name: "planting-policy",
        classify: ({ tool }) => ({ level: "LOW", reason: `because ${SECRET}`, rule: `rule-${tool.name}` }),
      },
      hooks: {
        beforeToolCall: (call) => (call.tool === "gated" ? { deny: `no, ${SECRET}` } : undefined),
        rewriteToolInput: (call) => (call.tool === "rewritten" ? { v: `now ${SECRET}` } : undefined),
      },
      pricing: { onUnknown: "zero" },
      sinks: [sink],
      audit: { dir: audit },
      security: { knownSecrets: { PLANTED: SECRET }, secretsFromEnv: false },
    });
    const session = h.session();
    const streamed: ReinEvent[] = [];
    const stream = session.stream(`the task mentions ${SECRET} and ${AWS}`);
    for await (const e of stream) streamed.push(e);
    const result = await stream.result;
    expect(result.status).toBe("completed");
    const logged = h.eventLog.read({ tenantId: "local", sessionId: session.id }, 0);
    const auditText = readFileSync(h.auditFile(session.id)!, "utf8");

    // Every place the secret was planted produced its event (so the check below covers them).
    const types = new Set(sink.events.map((e) => e.type));
    for (const t of [
      "run_started",
      "model_retry",
      "model_call_finished",
      "tool_call_requested",
      "tool_call_decided",
      "tool_call_started",
      "tool_call_finished",
      "stall_warning",
      "run_ended",
    ])
      expect(types, t).toContain(t);
    for (const [name, text] of [
      ["listener", JSON.stringify(sink.events)],
      ["stream", JSON.stringify(streamed)],
      ["log", JSON.stringify(logged)],
      ["audit", auditText],
    ] as const) {
      expect(text, name).not.toContain(SECRET);
      expect(text, name).not.toContain(AWS);
      // Redacted where it was, not dropped.
      expect(text, name).toContain("[REDACTED:PLANTED:1]");
    }
    // How: each field holds the placeholder in place of the secret.
    expect(
      sink
        .ofType("tool_call_requested")
        .map((e) => e.data)
        .map((d) => d.callId),
    ).toContain("call-[REDACTED:PLANTED:1]");
    expect(
      sink
        .ofType("tool_call_requested")
        .map((e) => e.data)
        .map((d) => d.tool),
    ).toContain("tool_[REDACTED:PLANTED:1]");
    expect(sink.ofType("tool_call_requested").map((e) => e.data)[0]!.input).toEqual({
      text: "in [REDACTED:PLANTED:1]",
    });
    const started = sink.ofType("tool_call_started").map((e) => e.data);
    expect(started.find((d) => d.tool === "echo")!.idempotencyKey).toMatch(/:call-\[REDACTED:PLANTED:1\]$/);
    const rewritten = started.find((d) => d.tool === "rewritten")!;
    expect(rewritten.input).toEqual({ v: "now [REDACTED:PLANTED:1]" });
    expect(rewritten.originalInput).toEqual({ v: "plain" });
    const finished = sink.ofType("tool_call_finished").map((e) => e.data);
    expect(finished.find((d) => d.tool === "boom")!.content).toContain(
      "could not connect with [REDACTED:PLANTED:1]",
    );
    const decided = sink.ofType("tool_call_decided").map((e) => e.data);
    const gated = decided.find((d) => d.tool === "gated")!;
    expect(gated.verdict).toBe("deny");
    expect(JSON.stringify(gated.stages)).toContain("no, [REDACTED:PLANTED:1]");
    expect(decided.find((d) => d.tool === "echo")!.risk!.reason).toBe("because [REDACTED:PLANTED:1]");
    const call = sink.ofType("model_call_finished").map((e) => e.data)[0]!;
    expect(call.model).toBe("planting:[REDACTED:PLANTED:1]");
    expect(call.usage).toMatchObject({ "n_[REDACTED:PLANTED:1]": "[REDACTED:PLANTED:1]" });
    expect(sink.ofType("model_retry").map((e) => e.data)[0]!.reason).toBe(
      "upstream said [REDACTED:PLANTED:1]",
    );
    expect(sink.ofType("stall_warning").map((e) => e.data)[0]!.diagnostic).toBe(
      "repeating [REDACTED:PLANTED:1]",
    );
    expect(sink.ofType("run_ended").map((e) => e.data)[0]!.finalText).toBe(
      "all done, the key was [REDACTED:PLANTED:1] and [REDACTED:aws_access_key:1]",
    );
    await session.close();
  });
});

/** Every string leaf and every key of `value`, as paths (a key's path ends with `{key}`). */
function places(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []) {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean" || value === null)
    out.push(path);
  else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) places(value[i], [...path, i], out);
  } else if (typeof value === "object")
    for (const [k, v] of Object.entries(value)) {
      out.push([...path, `{${k}}`]);
      places(v, [...path, k], out);
    }
  return out;
}

/** A deep copy of `value` with the secret planted at `path` (a leaf replaced, or a key renamed). */
function plant(value: unknown, path: readonly (string | number)[], secret: string): unknown {
  if (path.length === 0) return `x ${secret} y`;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? plant(v, rest, secret) : v));
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof head === "string" && head === `{${k}}` && rest.length === 0) out[`${k}_${secret}`] = v;
    else out[k] = k === head ? plant(v, rest, secret) : v;
  }
  return out;
}

describe("the event filter checks every field of every event type", () => {
  it("finds a secret planted in any field, key, number or nested record of a real session's events", async () => {
    // A session with security off records its events as built: every event type of a tool loop,
    // denials, errors and a guard's event, with every field the harness fills.
    const sink = recordingSink();
    const h = createHarness({
      model: plantingModel(),
      tools,
      guards: [plantingGuard],
      hooks: {
        beforeToolCall: (call) => (call.tool === "gated" ? { deny: "no" } : undefined),
        rewriteToolInput: (call) => (call.tool === "rewritten" ? { v: "now" } : undefined),
      },
      pricing: { onUnknown: "zero" },
      sinks: [sink],
      audit: false,
      security: { redact: false, spotlight: false, detect: false, secretsFromEnv: false },
    });
    await h.session().run("go");
    const events = sink.events.filter((e) => e.type !== "text_delta");
    expect(new Set(events.map((e) => e.type)).size).toBeGreaterThanOrEqual(10);
    const needle = "pk-planted-7f3a9c2e4b6d8f1a";
    let checked = 0;
    for (const event of events) {
      for (const path of places(event.data)) {
        for (const frozen of [false, true]) {
          const planted = plant(event.data, path, needle);
          if (frozen) deepFreeze(planted);
          // A fresh redactor per case, warmed on the clean event first: the clean cache and the
          // shared records it remembers must not let the planted copy through.
          const redactor = new SecretRedactor({ knownSecrets: [{ label: "PLANTED", value: needle }] });
          const filter = new EventRedactor(redactor);
          filter.filter(event.type, event.data as never);
          const out = JSON.stringify(filter.filter(event.type, planted as never));
          expect(out, `${event.type} at ${path.join(".")}${frozen ? " (frozen)" : ""}`).not.toContain(needle);
          expect(out).toContain("[REDACTED:PLANTED:1]");
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  it("knows the shape of the events a tool call makes, as the loop builds them", async () => {
    // Not a security property (an event of another shape is walked whole): the cost of a call is.
    const sink = recordingSink();
    const h = createHarness({
      model: plantingModel(),
      tools,
      pricing: { onUnknown: "zero" },
      sinks: [sink],
      audit: false,
      security: { redact: false, spotlight: false, detect: false, secretsFromEnv: false },
    });
    await h.session().run("go");
    const shaped: EventType[] = [
      "model_call_started",
      "model_call_finished",
      "tool_call_requested",
      "tool_call_decided",
      "tool_call_started",
      "tool_call_finished",
    ];
    for (const type of shaped) {
      const events = sink.events.filter((e) => e.type === type);
      expect(events.length, type).toBeGreaterThan(0);
      for (const e of events) expect(Object.keys(e.data), type).toEqual(eventShape(type));
    }
    expect(Object.keys(sink.ofType("model_call_finished")[1]!.data.usage)).toEqual([
      "inputTokens",
      "outputTokens",
      "cacheReadTokens",
      "cacheWriteTokens",
    ]);
  });

  it("scans an idempotency key, a stage note and an unknown field even though their names are known or new", () => {
    const redactor = new SecretRedactor();
    const filter = new EventRedactor(redactor);
    const data = {
      turn: 1,
      callId: "c1",
      tool: "t",
      idempotencyKey: `ses_1:1:${AWS}`,
      input: { [`k ${AWS}`]: 1 },
      // A field no event of the harness has: name and value scanned.
      [`extra ${AWS}`]: AWS,
    };
    const out = filter.filter("tool_call_started", data as never) as unknown as Record<string, unknown>;
    expect(JSON.stringify(out)).not.toContain(AWS);
    expect(out.idempotencyKey).toBe("ses_1:1:[REDACTED:aws_access_key:1]");
    expect(out.input).toEqual({ "k [REDACTED:aws_access_key:1]": 1 });
    expect(out["extra [REDACTED:aws_access_key:1]"]).toBe("[REDACTED:aws_access_key:1]");
    // A number field holding text is scanned as text.
    const odd = filter.filter("model_call_started", { turn: `t ${AWS}`, model: "m" } as never);
    expect(JSON.stringify(odd)).not.toContain(AWS);
  });

  it("walks a remembered shared record again once a secret it holds becomes known", () => {
    const redactor = new SecretRedactor();
    const filter = new EventRedactor(redactor);
    const note = "rotated value 5yT8wQ2eR6uI";
    const stages = Object.freeze([
      Object.freeze({ stage: "hooks", outcome: "pass", by: "hook" }),
      Object.freeze({ stage: "approve", outcome: "pass", by: "approvals", note }),
    ]);
    const risk = Object.freeze({ level: "LOW", reason: note, rule: "r" });
    const data = () => ({ turn: 1, callId: "c", tool: "t", verdict: "allow", risk, approval: null, stages });
    // Clean: the same records come back, and are remembered (the second event finds them by identity).
    const first = filter.filter("tool_call_decided", data() as never);
    expect(first.stages).toBe(stages);
    expect(filter.filter("tool_call_decided", data() as never).risk).toBe(risk);
    // The text becomes a known secret: the remembered records no longer count as clean.
    redactor.known.add("ROTATED", note);
    const after = filter.filter("tool_call_decided", data() as never);
    expect(JSON.stringify(after)).not.toContain(note);
    expect(after.risk!.reason).toBe("[REDACTED:ROTATED:1]");
    expect(after.stages[1]!.note).toBe("[REDACTED:ROTATED:1]");
  });

  it("does not remember a shared record that is not frozen: a change to it is seen", () => {
    const redactor = new SecretRedactor();
    const filter = new EventRedactor(redactor);
    const record = { stage: "hooks", outcome: "pass", by: "hook", note: "fine" };
    const stages = [record];
    const data = () => ({
      turn: 1,
      callId: "c",
      tool: "t",
      verdict: "allow",
      risk: null,
      approval: null,
      stages,
    });
    expect(filter.filter("tool_call_decided", data() as never).stages).toBe(stages);
    record.note = `changed to ${AWS}`;
    const out = filter.filter("tool_call_decided", data() as never);
    expect(out.stages[0]!.note).toBe("changed to [REDACTED:aws_access_key:1]");
  });
});

function deepFreeze(value: unknown): void {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
  for (const v of Object.values(value)) deepFreeze(v);
  Object.freeze(value);
}
