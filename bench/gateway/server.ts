/**
 * The benchmark's provider: a loopback server in its own process (so its work does not land on the
 * measured process) that drains each request and answers a short streamed reply in the protocol the
 * path names. Prints its port on stdout.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const ev = (name: string | undefined, data: unknown) =>
  `${name ? `event: ${name}\n` : ""}data: ${JSON.stringify(data)}\n\n`;

const anthropic = [
  ev("message_start", {
    type: "message_start",
    message: {
      id: "m",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-6",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 1 },
    },
  }),
  ev("content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  }),
  ev("content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "ok " },
  }),
  ev("content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "done" },
  }),
  ev("content_block_stop", { type: "content_block_stop", index: 0 }),
  ev("message_delta", {
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage: { output_tokens: 2 },
  }),
  ev("message_stop", { type: "message_stop" }),
].join("");

const response = {
  id: "r",
  object: "response",
  created_at: 1,
  status: "completed",
  model: "gpt-4.1",
  output: [
    {
      type: "message",
      id: "m",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: "ok done", annotations: [] }],
    },
  ],
  usage: {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 2,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 12,
  },
};
const responses = [
  ev("response.output_text.delta", {
    type: "response.output_text.delta",
    sequence_number: 1,
    item_id: "m",
    output_index: 0,
    content_index: 0,
    delta: "ok ",
  }),
  ev("response.output_text.delta", {
    type: "response.output_text.delta",
    sequence_number: 2,
    item_id: "m",
    output_index: 0,
    content_index: 0,
    delta: "done",
  }),
  ev("response.completed", { type: "response.completed", sequence_number: 3, response }),
].join("");

const chunk = (delta: unknown, finish: string | null = null) =>
  ev(undefined, {
    id: "c",
    object: "chat.completion.chunk",
    created: 1,
    model: "gpt-4.1",
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
const chat = [
  chunk({ role: "assistant", content: "ok " }),
  chunk({ content: "done" }),
  chunk({}, "stop"),
  ev(undefined, {
    id: "c",
    object: "chat.completion.chunk",
    created: 1,
    model: "gpt-4.1",
    choices: [],
    usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
  }),
  "data: [DONE]\n\n",
].join("");

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const body = req.url?.endsWith("/messages")
      ? anthropic
      : req.url?.endsWith("/responses")
        ? responses
        : chat;
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on("disconnect", () => process.exit(0));
