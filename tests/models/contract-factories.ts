/**
 * Every provider as a factory for a reply-driven model contract (`modelContract` in rein/testing):
 * `create(replies)` starts a loopback server that answers request i with replies[i] in the provider's
 * wire format, and returns the provider pointed at it through its official SDK; `dispose` stops it.
 */
import type { Model, Usage } from "../../src/index.js";
import { AnthropicModel } from "../../src/models/providers/anthropic/anthropic-model.js";
import { openaiModel } from "../../src/models/providers/openai/openai-model.js";
import { openaiCompatibleModel } from "../../src/models/providers/openai-compatible/openai-compatible-model.js";
import { type ProviderServer, startProviderServer, type Turn } from "./loopback/provider-server.js";

/** The replies a reply-driven contract scripts (structurally the same as rein/testing's). */
export type ContractReply =
  | {
      readonly kind: "answer";
      readonly text?: string;
      readonly toolCalls?: readonly { readonly name: string; readonly input: Record<string, unknown> }[];
      readonly usage: Usage;
      readonly stopReason: string;
    }
  | { readonly kind: "hang" };

export function turnOf(reply: ContractReply, index: number): Turn {
  if (reply.kind === "hang") return { kind: "hang" };
  return {
    kind: "reply",
    ...(reply.text !== undefined ? { text: reply.text } : {}),
    toolCalls: (reply.toolCalls ?? []).map((c, i) => ({
      id: `call_${index}_${i}`,
      name: c.name,
      args: JSON.stringify(c.input),
    })),
    usage: {
      input: reply.usage.inputTokens,
      output: reply.usage.outputTokens,
      cacheRead: reply.usage.cacheReadTokens,
      cacheWrite: reply.usage.cacheWriteTokens,
    },
  };
}

export interface ContractFactory {
  readonly name: string;
  create(replies: readonly ContractReply[]): Promise<Model>;
  dispose(model: Model): Promise<void>;
}

const servers = new WeakMap<Model, ProviderServer>();

function factory(name: string, served: string, make: (url: string) => Model): ContractFactory {
  return {
    name,
    async create(replies) {
      const server = await startProviderServer(served);
      server.queue(...replies.map(turnOf));
      const model = make(server.url);
      servers.set(model, server);
      return model;
    },
    async dispose(model) {
      await servers.get(model)?.close();
    },
  };
}

export const CONTRACT_FACTORIES: readonly ContractFactory[] = [
  factory(
    "AnthropicModel (loopback, SSE)",
    "claude-sonnet-4-6",
    (url) => new AnthropicModel({ model: "claude-sonnet-4-6", apiKey: "test", baseURL: url, env: {} }),
  ),
  factory("OpenAI Responses (loopback, SSE)", "gpt-4.1", (url) =>
    openaiModel({ model: "gpt-4.1", apiKey: "test", baseURL: `${url}/v1`, env: {} }),
  ),
  factory("OpenAI Chat Completions (loopback, SSE)", "gpt-4.1", (url) =>
    openaiModel({ model: "gpt-4.1", api: "chat", apiKey: "test", baseURL: `${url}/v1`, env: {} }),
  ),
  factory("OpenAI-compatible (loopback, SSE)", "llama3.1", (url) =>
    openaiCompatibleModel({ model: "llama3.1", baseURL: `${url}/v1` }),
  ),
];
