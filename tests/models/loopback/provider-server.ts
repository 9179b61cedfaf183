/**
 * A loopback HTTP server that speaks the providers' real wire formats — Anthropic Messages, OpenAI
 * Responses and Chat Completions, as JSON and as SSE — so the official SDKs run unmodified against it.
 * Tests queue what each next request gets (an answer, an error, a malformed body, a cut stream, a hang).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ToolCallSpec {
  /** Omit to play a server that sends no id. */
  readonly id?: string;
  readonly name: string;
  /** The arguments exactly as the server sends them (JSON text, or not). */
  readonly args: string;
}

export interface UsageSpec {
  readonly input: number;
  readonly output: number;
  readonly cacheRead?: number;
  readonly cacheWrite?: number;
}

export type Turn =
  | {
      readonly kind: "reply";
      readonly text?: string;
      readonly toolCalls?: readonly ToolCallSpec[];
      readonly usage?: UsageSpec;
      readonly model?: string;
      /** Chat Completions quirks of some compatible servers. */
      readonly quirks?: { readonly noUsage?: boolean; readonly noIndex?: boolean };
    }
  | {
      readonly kind: "error";
      readonly status: number;
      readonly headers?: Record<string, string>;
      readonly message?: string;
    }
  | { readonly kind: "malformed" }
  /** Stream some of the answer, then end the body (`end`) or reset the socket (`reset`). */
  | { readonly kind: "cut"; readonly text?: string; readonly how: "end" | "reset" }
  /** Answer nothing until the client goes away. */
  | { readonly kind: "hang" }
  /** Stream the first piece of text, then hold the stream open until the client goes away. */
  | { readonly kind: "hold"; readonly text: string };

export type Protocol = "anthropic" | "responses" | "chat";

export interface RecordedRequest {
  readonly protocol: Protocol;
  readonly body: Record<string, unknown>;
  readonly headers: IncomingMessage["headers"];
}

export interface ProviderServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Resolves when a request's client disconnects before its answer finished. */
  readonly disconnects: number;
  queue(...turns: Turn[]): void;
  close(): Promise<void>;
}

const DEFAULT_USAGE: UsageSpec = { input: 100, output: 20 };

export async function startProviderServer(defaultModel = "served-model"): Promise<ProviderServer> {
  const turns: Turn[] = [];
  const requests: RecordedRequest[] = [];
  const open = new Set<ServerResponse>();
  let disconnects = 0;

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
    const protocol: Protocol = req.url?.endsWith("/messages")
      ? "anthropic"
      : req.url?.endsWith("/responses")
        ? "responses"
        : "chat";
    requests.push({ protocol, body, headers: req.headers });
    open.add(res);
    res.on("close", () => {
      if (!res.writableFinished) disconnects++;
      open.delete(res);
    });
    const turn = turns.shift() ?? {
      kind: "error",
      status: 500,
      message: "the test queued no answer for this request",
    };
    answer(protocol, body, turn, res, defaultModel);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get disconnects() {
      return disconnects;
    },
    queue: (...t) => turns.push(...t),
    close: () =>
      new Promise<void>((r) => {
        for (const res of open) res.destroy();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function answer(
  protocol: Protocol,
  body: Record<string, unknown>,
  turn: Turn,
  res: ServerResponse,
  model: string,
): void {
  const streaming = body.stream === true;
  switch (turn.kind) {
    case "error": {
      const payload =
        protocol === "anthropic"
          ? {
              type: "error",
              error: {
                type: turn.status === 529 ? "overloaded_error" : "api_error",
                message: turn.message ?? `status ${turn.status}`,
              },
            }
          : { error: { message: turn.message ?? `status ${turn.status}`, type: "server_error", code: null } };
      res.writeHead(turn.status, { "content-type": "application/json", ...turn.headers });
      res.end(JSON.stringify(payload));
      return;
    }
    case "malformed":
      if (streaming) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(
          protocol === "anthropic" ? "event: message_start\ndata: {not json\n\n" : "data: {not json\n\n",
        );
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{not json");
      }
      return;
    case "hang":
      return;
    case "hold":
    case "cut": {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const events = sse(protocol, { kind: "reply", text: turn.text ?? "" }, model, body).slice(
        0,
        turn.text ? 3 : 1,
      );
      // The reset waits until what was written is flushed, so the client did receive the first pieces.
      res.write(events.join(""), () => {
        if (turn.kind === "cut") {
          if (turn.how === "end") res.end();
          else res.destroy();
        }
      });
      return;
    }
    case "reply":
      if (streaming) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(sse(protocol, turn, model, body).join(""));
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(json(protocol, turn, model)));
      }
      return;
  }
}

type Reply = Extract<Turn, { kind: "reply" }>;

function pieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

function json(protocol: Protocol, t: Reply, model: string): unknown {
  const u = t.usage ?? DEFAULT_USAGE;
  const calls = t.toolCalls ?? [];
  const m = t.model ?? model;
  if (protocol === "anthropic") {
    return {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: m,
      content: [
        ...(t.text ? [{ type: "text", text: t.text }] : []),
        ...calls.map((c, i) => ({
          type: "tool_use",
          id: c.id ?? `toolu_${i}`,
          name: c.name,
          input: JSON.parse(c.args),
        })),
      ],
      stop_reason: calls.length ? "tool_use" : "end_turn",
      stop_sequence: null,
      usage: anthropicUsage(u),
    };
  }
  if (protocol === "responses") return responsesObject(t, m, "completed");
  return {
    id: "chatcmpl_1",
    object: "chat.completion",
    created: 1,
    model: m,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: t.text ?? null,
          ...(calls.length
            ? {
                tool_calls: calls.map((c) => ({
                  ...(c.id ? { id: c.id } : {}),
                  type: "function",
                  function: { name: c.name, arguments: c.args },
                })),
              }
            : {}),
        },
        finish_reason: calls.length ? "tool_calls" : "stop",
      },
    ],
    ...(t.quirks?.noUsage ? {} : { usage: chatUsage(u) }),
  };
}

function anthropicUsage(u: UsageSpec) {
  return {
    input_tokens: u.input,
    output_tokens: u.output,
    cache_read_input_tokens: u.cacheRead ?? 0,
    cache_creation_input_tokens: u.cacheWrite ?? 0,
  };
}

function chatUsage(u: UsageSpec) {
  return {
    prompt_tokens: u.input + (u.cacheRead ?? 0),
    completion_tokens: u.output,
    total_tokens: u.input + (u.cacheRead ?? 0) + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead ?? 0 },
  };
}

function responsesObject(t: Reply, model: string, status: string) {
  const u = t.usage ?? DEFAULT_USAGE;
  return {
    id: "resp_1",
    object: "response",
    created_at: 1,
    status,
    model,
    output: [
      ...(t.text
        ? [
            {
              type: "message",
              id: "msg_1",
              role: "assistant",
              status: "completed",
              content: [{ type: "output_text", text: t.text, annotations: [] }],
            },
          ]
        : []),
      ...(t.toolCalls ?? []).map((c, i) => ({
        type: "function_call",
        id: `fc_${i}`,
        call_id: c.id ?? `call_${i}`,
        name: c.name,
        arguments: c.args,
        status: "completed",
      })),
    ],
    usage: {
      input_tokens: u.input + (u.cacheRead ?? 0),
      input_tokens_details: { cached_tokens: u.cacheRead ?? 0 },
      output_tokens: u.output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: u.input + (u.cacheRead ?? 0) + u.output,
    },
  };
}

const event = (name: string | undefined, data: unknown) =>
  `${name ? `event: ${name}\n` : ""}data: ${JSON.stringify(data)}\n\n`;

function sse(protocol: Protocol, t: Reply, model: string, body: Record<string, unknown>): string[] {
  const u = t.usage ?? DEFAULT_USAGE;
  const calls = t.toolCalls ?? [];
  const m = t.model ?? model;
  const out: string[] = [];
  if (protocol === "anthropic") {
    out.push(
      event("message_start", {
        type: "message_start",
        message: {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model: m,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...anthropicUsage(u), output_tokens: 1 },
        },
      }),
    );
    let index = 0;
    if (t.text) {
      out.push(
        event("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "text", text: "" },
        }),
      );
      for (const p of pieces(t.text))
        out.push(
          event("content_block_delta", {
            type: "content_block_delta",
            index,
            delta: { type: "text_delta", text: p },
          }),
        );
      out.push(event("content_block_stop", { type: "content_block_stop", index }));
      index++;
    }
    for (const [i, c] of calls.entries()) {
      out.push(
        event("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: c.id ?? `toolu_${i}`, name: c.name, input: {} },
        }),
      );
      const half = Math.floor(c.args.length / 2);
      for (const part of [c.args.slice(0, half), c.args.slice(half)])
        out.push(
          event("content_block_delta", {
            type: "content_block_delta",
            index,
            delta: { type: "input_json_delta", partial_json: part },
          }),
        );
      out.push(event("content_block_stop", { type: "content_block_stop", index }));
      index++;
    }
    out.push(
      event("message_delta", {
        type: "message_delta",
        delta: { stop_reason: calls.length ? "tool_use" : "end_turn", stop_sequence: null },
        usage: { output_tokens: u.output },
      }),
    );
    out.push(event("message_stop", { type: "message_stop" }));
    return out;
  }
  if (protocol === "responses") {
    let seq = 0;
    out.push(
      event("response.created", {
        type: "response.created",
        sequence_number: seq++,
        response: { ...responsesObject({ kind: "reply" }, m, "in_progress"), output: [], usage: null },
      }),
    );
    if (t.text)
      for (const p of pieces(t.text))
        out.push(
          event("response.output_text.delta", {
            type: "response.output_text.delta",
            sequence_number: seq++,
            item_id: "msg_1",
            output_index: 0,
            content_index: 0,
            delta: p,
          }),
        );
    for (const [i, c] of calls.entries())
      out.push(
        event("response.function_call_arguments.delta", {
          type: "response.function_call_arguments.delta",
          sequence_number: seq++,
          item_id: `fc_${i}`,
          output_index: i + 1,
          delta: c.args,
        }),
      );
    out.push(
      event("response.completed", {
        type: "response.completed",
        sequence_number: seq++,
        response: responsesObject(t, m, "completed"),
      }),
    );
    return out;
  }
  const chunk = (delta: unknown, finish: string | null = null) =>
    event(undefined, {
      id: "chatcmpl_1",
      object: "chat.completion.chunk",
      created: 1,
      model: m,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
  out.push(chunk({ role: "assistant", content: "" }));
  if (t.text) for (const p of pieces(t.text)) out.push(chunk({ content: p }));
  for (const [i, c] of calls.entries()) {
    const index = t.quirks?.noIndex ? {} : { index: i };
    out.push(
      chunk({
        tool_calls: [
          {
            ...index,
            ...(c.id ? { id: c.id } : {}),
            type: "function",
            function: { name: c.name, arguments: "" },
          },
        ],
      }),
    );
    const half = Math.floor(c.args.length / 2);
    for (const part of [c.args.slice(0, half), c.args.slice(half)])
      out.push(chunk({ tool_calls: [{ ...index, function: { arguments: part } }] }));
  }
  out.push(chunk({}, calls.length ? "tool_calls" : "stop"));
  const wantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  if (wantsUsage && !t.quirks?.noUsage)
    out.push(
      event(undefined, {
        id: "chatcmpl_1",
        object: "chat.completion.chunk",
        created: 1,
        model: m,
        choices: [],
        usage: chatUsage(u),
      }),
    );
  out.push("data: [DONE]\n\n");
  return out;
}
