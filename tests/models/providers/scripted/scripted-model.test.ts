import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ModelRequest, ModelResponse } from "../../../../src/models/model.js";
import type { Script } from "../../../../src/models/providers/scripted/script-schema.js";
import { ScriptedModel, scriptedModel } from "../../../../src/models/providers/scripted/scripted-model.js";
import { ModelError, ScriptError } from "../../../../src/protocol/errors.js";
import type { Message, ToolUseBlock } from "../../../../src/protocol/messages.js";

function request(messages: readonly Message[], extra: Partial<ModelRequest> = {}): ModelRequest {
  return {
    system: undefined,
    messages,
    tools: [],
    maxTokens: 1024,
    signal: new AbortController().signal,
    ...extra,
  };
}

type Result = { content: string; is_error?: boolean };
const okResult = (call: ToolUseBlock): Result => ({ content: `${call.name} ok` });
const errorResult = (type: string, message = "refused"): Result => ({
  content: JSON.stringify({ error: { type, message } }),
  is_error: true,
});

/** Plays the session's part: appends the answer, then a user message with a result for each tool call. */
function respond(
  messages: Message[],
  response: ModelResponse,
  result: (call: ToolUseBlock) => Result = okResult,
) {
  messages.push({ role: "assistant", content: response.content });
  const calls = response.content.filter((b): b is ToolUseBlock => b.type === "tool_use");
  if (calls.length === 0) return;
  messages.push({
    role: "user",
    content: calls.map((call) => ({ type: "tool_result", tool_use_id: call.id, ...result(call) })),
  });
}

function textOf(response: ModelResponse): string | undefined {
  const block = response.content.find((b) => b.type === "text");
  return block?.type === "text" ? block.text : undefined;
}

function toolCalls(response: ModelResponse): ToolUseBlock[] {
  return response.content.filter((b): b is ToolUseBlock => b.type === "tool_use");
}

function userPrompt(text = "clean up"): Message[] {
  return [{ role: "user", content: [{ type: "text", text }] }];
}

afterEach(() => {
  vi.useRealTimers();
});

describe("playing a script", () => {
  const script: Script = {
    name: "cleanup-demo",
    turns: [
      {
        say: "I'll look around first.",
        tool_calls: [
          { tool: "list_directory", input: { path: "." } },
          { tool: "read_file", input: { path: "README.md" } },
        ],
        usage: { input_tokens: 1200, output_tokens: 80, cache_read_tokens: 5, cache_write_tokens: 7 },
      },
      { tool_calls: [{ tool: "run_shell" }] },
      { say: "All clean." },
    ],
  };

  it("answers each call with the next turn's text, tool calls and usage", async () => {
    const model = new ScriptedModel(script);
    const messages = userPrompt();

    const first = await model.generate(request(messages));
    expect(first).toEqual({
      content: [
        { type: "text", text: "I'll look around first." },
        { type: "tool_use", id: "toolu_1_0", name: "list_directory", input: { path: "." } },
        { type: "tool_use", id: "toolu_1_1", name: "read_file", input: { path: "README.md" } },
      ],
      stopReason: "tool_use",
      usage: { inputTokens: 1200, outputTokens: 80, cacheReadTokens: 5, cacheWriteTokens: 7 },
      model: "scripted:cleanup-demo",
    });
    respond(messages, first);

    const second = await model.generate(request(messages));
    expect(second.content).toEqual([{ type: "tool_use", id: "toolu_2_0", name: "run_shell", input: {} }]);
    expect(second.usage).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
    respond(messages, second);

    const third = await model.generate(request(messages));
    expect(third.content).toEqual([{ type: "text", text: "All clean." }]);
    expect(third.stopReason).toBe("end_turn");
  });

  it("uses the turn's stop_reason when it gives one", async () => {
    const model = scriptedModel({ turns: [{ say: "cut off", stop_reason: "max_tokens" }] });
    expect((await model.generate(request(userPrompt()))).stopReason).toBe("max_tokens");
  });

  it("hands out fresh usage and input objects, so a caller that mutates them cannot change the script", async () => {
    const model = scriptedModel({ turns: [{ tool_calls: [{ tool: "t", input: { a: [1] } }], repeat: 2 }] });
    const messages = userPrompt();
    const first = await model.generate(request(messages));
    first.usage.inputTokens = 99;
    (toolCalls(first)[0]!.input as { a: number[] }).a.push(2);
    respond(messages, first);
    const second = await model.generate(request(messages));
    expect(second.usage.inputTokens).toBe(0);
    expect(toolCalls(second)[0]!.input).toEqual({ a: [1] });
  });

  it("streams the text in word chunks before resolving, then returns it as one block", async () => {
    const model = scriptedModel({
      turns: [{ say: " I'll look  around first.\n", tool_calls: [{ tool: "ls" }] }],
    });
    const deltas: string[] = [];
    const response = await model.generate(request(userPrompt(), { onTextDelta: (d) => deltas.push(d) }));
    expect(deltas).toEqual([" I'll ", "look  ", "around ", "first.\n"]);
    expect(deltas.join("")).toBe(textOf(response));
  });

  it("streams nothing for a turn without text", async () => {
    const model = scriptedModel({ turns: [{ tool_calls: [{ tool: "ls" }] }] });
    const onTextDelta = vi.fn();
    const response = await model.generate(request(userPrompt(), { onTextDelta }));
    expect(onTextDelta).not.toHaveBeenCalled();
    expect(response.content).toHaveLength(1);
  });

  it("plays a repeated turn N times with unique tool call ids, then moves on", async () => {
    const model = scriptedModel({
      turns: [{ tool_calls: [{ tool: "ping" }, { tool: "ping" }], repeat: 2000 }, { say: "done" }],
    });
    const messages = userPrompt();
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const response = await model.generate(request(messages));
      for (const call of toolCalls(response)) ids.add(call.id);
      respond(messages, response);
    }
    expect(ids.size).toBe(4000);
    expect(ids.has("toolu_2000_1")).toBe(true);
    expect(textOf(await model.generate(request(messages)))).toBe("done");
  });

  it("keeps two conversations on one model independent", async () => {
    const model = scriptedModel({ turns: [{ say: "one", tool_calls: [{ tool: "t" }] }, { say: "two" }] });
    const a = userPrompt("a");
    const b = userPrompt("b");
    const a1 = await model.generate(request(a));
    respond(a, a1);
    const b1 = await model.generate(request(b));
    respond(b, b1);
    const a2 = await model.generate(request(a));
    expect([textOf(a1), textOf(b1), textOf(a2)]).toEqual(["one", "one", "two"]);
    expect(toolCalls(b1)[0]!.id).toBe("toolu_1_0");
  });

  it("continues a resumed conversation after its last assistant message", async () => {
    const model = scriptedModel({
      turns: [{ say: "look", tool_calls: [{ tool: "ls" }], repeat: 3 }, { say: "done" }],
    });
    const messages = userPrompt();
    for (let i = 0; i < 2; i++) respond(messages, await model.generate(request(messages)));

    // A fresh array with the same history: the model has never seen it and counts it once.
    const resumed = [...messages];
    const third = await model.generate(request(resumed));
    expect(toolCalls(third)[0]!.id).toBe("toolu_3_0");
    respond(resumed, third);
    expect(textOf(await model.generate(request(resumed)))).toBe("done");
  });

  it("does O(1) work per call: it reads only the last message, whatever the history's length", async () => {
    const script: Script = {
      turns: [
        {
          tool_calls: [{ tool: "ping" }],
          repeat: 1000,
          when: [{ if: { error: "any" }, say: "failed" }],
        },
      ],
    };

    async function readsPerCall(turns: number): Promise<Set<string>> {
      const model = scriptedModel(script);
      const target = userPrompt();
      let reads: string[] = [];
      const messages = new Proxy(target, {
        get(array, property, receiver) {
          if (typeof property === "string") reads.push(/^\d+$/.test(property) ? "index" : property);
          return Reflect.get(array, property, receiver);
        },
      });
      const perCall = new Set<string>();
      for (let turn = 1; turn <= turns; turn++) {
        reads = [];
        const response = await model.generate(request(messages));
        // The first call counts the (one-message) history once; later calls must not look back.
        if (turn > 1) perCall.add(reads.join(","));
        respond(target, response);
      }
      return perCall;
    }

    const short = await readsPerCall(10);
    const long = await readsPerCall(1000);
    expect(short).toEqual(new Set(["length,index"]));
    expect(long).toEqual(short);
  });
});

describe("branching on the previous turn's tool results", () => {
  /**
   * Turn 1 calls run_shell and read_file; the harness answers each with `results[tool]` (ok by default).
   * Returns turn 2's answer, whose own fields are the fallback.
   */
  async function branch(
    when: NonNullable<Script["turns"][number]["when"]>,
    results: Record<string, Result> = {},
  ): Promise<ModelResponse> {
    const model = scriptedModel({
      turns: [
        { tool_calls: [{ tool: "run_shell", input: { command: "rm -rf build" } }, { tool: "read_file" }] },
        { when, say: "fallback", tool_calls: [{ tool: "list_directory" }], usage: { output_tokens: 9 } },
      ],
    });
    const messages = userPrompt();
    respond(
      messages,
      await model.generate(request(messages)),
      (call) => results[call.name] ?? okResult(call),
    );
    return model.generate(request(messages));
  }

  it("takes an error branch when a result is an error of that type", async () => {
    const when = [{ if: { error: "permission_denied" }, say: "The harness refused that; I'll stop." }];
    const refused = await branch(when, { run_shell: errorResult("permission_denied") });
    expect(textOf(refused)).toBe("The harness refused that; I'll stop.");
    expect(textOf(await branch(when, { run_shell: errorResult("timeout") }))).toBe("fallback");
  });

  it("takes an error: any branch for an error of any type, even unparseable", async () => {
    const when = [{ if: { error: "any" }, say: "something failed" }];
    expect(textOf(await branch(when, { read_file: errorResult("not_found") }))).toBe("something failed");
    expect(textOf(await branch(when, { read_file: { content: "boom", is_error: true } }))).toBe(
      "something failed",
    );
    expect(textOf(await branch(when))).toBe("fallback");
  });

  it("takes an ok branch only when every result succeeded", async () => {
    const when = [{ if: { ok: true as const }, say: "all good" }];
    expect(textOf(await branch(when))).toBe("all good");
    expect(textOf(await branch(when, { read_file: errorResult("not_found") }))).toBe("fallback");
  });

  it("narrows the other fields to one tool's results with tool", async () => {
    const when = [{ if: { ok: true as const, tool: "run_shell" }, say: "the shell worked" }];
    expect(textOf(await branch(when, { read_file: errorResult("not_found") }))).toBe("the shell worked");
    expect(textOf(await branch(when, { run_shell: errorResult("timeout") }))).toBe("fallback");
  });

  it("matches tool alone when that tool was called, and never for a tool that was not", async () => {
    expect(textOf(await branch([{ if: { tool: "read_file" }, say: "read" }]))).toBe("read");
    expect(textOf(await branch([{ if: { tool: "write_file" }, say: "wrote" }]))).toBe("fallback");
    expect(textOf(await branch([{ if: { tool: "write_file", error: "any" }, say: "wrote" }]))).toBe(
      "fallback",
    );
  });

  it("matches contains against result content, errors included", async () => {
    const when = [{ if: { contains: "secret" }, say: "found it" }];
    expect(textOf(await branch(when, { read_file: { content: "a secret key" } }))).toBe("found it");
    expect(textOf(await branch(when, { run_shell: errorResult("blocked", "secret leak") }))).toBe("found it");
    expect(textOf(await branch(when))).toBe("fallback");
  });

  it("takes the first branch whose condition holds", async () => {
    const when = [
      { if: { error: "timeout" }, say: "slow" },
      { if: { tool: "run_shell" }, say: "first match" },
      { if: { ok: true as const }, say: "second match" },
    ];
    expect(textOf(await branch(when))).toBe("first match");
  });

  it("falls back to the turn's own fields when no branch matches", async () => {
    const response = await branch([{ if: { error: "permission_denied" }, say: "refused" }]);
    expect(response.content).toEqual([
      { type: "text", text: "fallback" },
      { type: "tool_use", id: "toolu_2_0", name: "list_directory", input: {} },
    ]);
    expect(response.usage.outputTokens).toBe(9);
  });

  it("replaces the turn's reply as a whole: fields a branch leaves out are absent", async () => {
    const response = await branch([{ if: { ok: true as const }, say: "stop here" }]);
    expect(response.content).toEqual([{ type: "text", text: "stop here" }]);
    expect(response.stopReason).toBe("end_turn");
    expect(response.usage.outputTokens).toBe(0);
  });

  it("can make the call fail from a branch", async () => {
    const failing = branch([{ if: { error: "any" }, fail: "overloaded" }], {
      run_shell: errorResult("timeout"),
    });
    await expect(failing).rejects.toMatchObject({
      code: "REIN_MODEL_CALL_FAILED",
      message: "overloaded",
      details: { turn: 2 },
    });
  });

  it("matches no branch when the last message is a new user prompt rather than tool results", async () => {
    const model = scriptedModel({
      turns: [{ say: "hi" }, { when: [{ if: { ok: true }, say: "results" }], say: "new prompt" }],
    });
    const messages = userPrompt();
    respond(messages, await model.generate(request(messages)));
    messages.push(...userPrompt("and now?"));
    expect(textOf(await model.generate(request(messages)))).toBe("new prompt");
  });

  it("knows which tool each result belongs to in a resumed conversation", async () => {
    const model = scriptedModel({
      turns: [
        { tool_calls: [{ tool: "run_shell" }, { tool: "read_file" }] },
        { when: [{ if: { tool: "read_file", error: "permission_denied" }, say: "read refused" }] },
      ],
    });
    const messages = userPrompt();
    respond(messages, await model.generate(request(messages)), (call) =>
      call.name === "read_file" ? errorResult("permission_denied") : okResult(call),
    );
    expect(textOf(await model.generate(request([...messages])))).toBe("read refused");
  });
});

describe("failures", () => {
  it("throws REIN_SCRIPT_EXHAUSTED naming the file and the turn requested, without moving on", async () => {
    const model = new ScriptedModel(
      { turns: [{ say: "hi", tool_calls: [{ tool: "t" }], repeat: 2 }] },
      { file: "scripts/demo.yaml" },
    );
    const messages = userPrompt();
    for (let i = 0; i < 2; i++) respond(messages, await model.generate(request(messages)));
    for (let attempt = 0; attempt < 2; attempt++) {
      const err = await model.generate(request(messages)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ScriptError);
      expect(err).toMatchObject({
        code: "REIN_SCRIPT_EXHAUSTED",
        message:
          "scripts/demo.yaml: script exhausted: the model was asked for turn 3, but the script has only " +
          "2 turns (1 entries with repeat). Add turns, or end the script with a turn without tool_calls so the run completes.",
        location: { file: "scripts/demo.yaml", turn: 3 },
      });
    }
  });

  it("throws REIN_MODEL_CALL_FAILED with the fail message, and a retry gets the next turn", async () => {
    const model = scriptedModel({
      name: "flaky",
      turns: [{ fail: "overloaded", say: "unused" }, { say: "ok now" }],
    });
    const messages = userPrompt();
    const onTextDelta = vi.fn();
    const err = await model.generate(request(messages, { onTextDelta })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err).not.toBeInstanceOf(ScriptError);
    expect(err).toMatchObject({
      code: "REIN_MODEL_CALL_FAILED",
      message: "overloaded",
      details: { model: "scripted:flaky", file: "<inline>", turn: 1 },
    });
    expect(onTextDelta).not.toHaveBeenCalled();
    expect(textOf(await model.generate(request(messages)))).toBe("ok now");
  });

  it("rejects with the signal's reason when the request is already aborted, and plays the turn later", async () => {
    const model = scriptedModel({ turns: [{ say: "hi" }] });
    const controller = new AbortController();
    const reason = new Error("user cancelled");
    controller.abort(reason);
    const messages = userPrompt();
    await expect(model.generate(request(messages, { signal: controller.signal }))).rejects.toBe(reason);
    expect(textOf(await model.generate(request(messages)))).toBe("hi");
  });
});

describe("delay_ms", () => {
  it("answers after the delay", async () => {
    vi.useFakeTimers();
    const model = scriptedModel({ turns: [{ say: "slow", delay_ms: 5000 }] });
    let answered = false;
    const pending = model.generate(request(userPrompt())).then((r) => {
      answered = true;
      return r;
    });
    await vi.advanceTimersByTimeAsync(4999);
    expect(answered).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(textOf(await pending)).toBe("slow");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("leaves no abort listener on the request's signal, whether the wait ends, fails or is aborted", async () => {
    vi.useFakeTimers();
    const model = scriptedModel({
      turns: [
        { say: "slow", delay_ms: 100, repeat: 3 },
        { fail: "provider down", delay_ms: 100 },
      ],
    });
    const messages = userPrompt();
    // One long-lived signal for every call: a listener left per call would pile up on it.
    const shared = new AbortController().signal;
    for (let i = 0; i < 3; i++) {
      const pending = model.generate(request(messages, { signal: shared }));
      expect(getEventListeners(shared, "abort")).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(100);
      expect(textOf(await pending)).toBe("slow");
      expect(getEventListeners(shared, "abort")).toHaveLength(0);
    }
    // A `fail` turn after its delay rejects with its error, and still removes its listener.
    const failing = model.generate(request(messages, { signal: shared }));
    const failed = expect(failing).rejects.toBeInstanceOf(ModelError);
    await vi.advanceTimersByTimeAsync(100);
    await failed;
    expect(getEventListeners(shared, "abort")).toHaveLength(0);

    const controller = new AbortController();
    const aborted = model.generate(request(userPrompt(), { signal: controller.signal }));
    controller.abort("stop");
    await expect(aborted).rejects.toBe("stop");
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects with the signal's reason as soon as the request aborts, leaves no timer, and keeps the turn", async () => {
    vi.useFakeTimers();
    const model = scriptedModel({ turns: [{ say: "slow", delay_ms: 60_000 }] });
    const messages = userPrompt();
    const controller = new AbortController();
    const pending = model.generate(request(messages, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);

    const reason = new DOMException("timed out", "TimeoutError");
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);

    const retry = model.generate(request(messages));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(textOf(await retry)).toBe("slow");
  });
});
