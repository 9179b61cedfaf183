/**
 * gateway (issue 17): what Rein's provider + gateway add to a model call over calling the official SDK
 * directly, against the same loopback server (in its own process) in the same run. Three protocols
 * (Anthropic Messages, OpenAI Responses, Chat Completions), streamed, at 2 and at 2,000 history
 * messages; each call appends one message to the history, as a session's step does. Calls alternate
 * between the two subjects so drift hits both alike. Target: < 0.2 ms p50 added, and no growth with
 * the history (the SDK's one serialisation is the floor). Flags: `--quick`, `--calls <n>`.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";
import { median } from "./lib/measure.ts";

type Rein = typeof import("../dist/index.js");
type Message = import("../dist/index.js").Message;

interface Protocol {
  readonly name: string;
  /** The SDK called directly: the caller keeps its own wire-format history and appends to it. */
  direct(url: string): Promise<{ call(): Promise<void>; append(text: string): void }>;
  rein(rein: Rein, url: string): { call(): Promise<void>; append(text: string): void };
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const SYSTEM = "You are a benchmark.";
const userText = (i: number) =>
  `message ${i}: please look at file src/module-${i}.ts and report what it exports.`;

/** A history of `n` messages alternating user/assistant text, in Rein's format. */
function reinHistory(n: number): Message[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0
      ? { role: "user" as const, content: [{ type: "text" as const, text: userText(i) }] }
      : {
          role: "assistant" as const,
          content: [{ type: "text" as const, text: `answer ${i}: it exports three functions.` }],
        },
  );
}

function reinSubject(rein: Rein, model: import("../dist/index.js").Model, size: number) {
  void size;
  const g = rein.gateway({ models: [model], state: new rein.GatewayState() });
  const history = reinHistory(size);
  const request = {
    system: SYSTEM,
    messages: history,
    tools: [],
    maxTokens: 256,
    signal: new AbortController().signal,
    onTextDelta: () => {},
  };
  return {
    async call() {
      await g.generate(request);
    },
    append(text: string) {
      history.push({
        role: history.length % 2 === 0 ? "user" : "assistant",
        content: [{ type: "text", text }],
      });
    },
  };
}

const PROTOCOLS: Protocol[] = [
  {
    name: "anthropic messages",
    async direct(url) {
      const { default: Anthropic } = await import("@anthropic-ai/sdk");
      const client = new Anthropic({ apiKey: "bench", baseURL: url, maxRetries: 0 });
      const messages: { role: "user" | "assistant"; content: { type: "text"; text: string }[] }[] = [];
      return {
        async call() {
          const stream = await client.messages.create({
            model: "claude-sonnet-4-6",
            max_tokens: 256,
            system: SYSTEM,
            messages,
            stream: true,
          });
          for await (const _ of stream);
        },
        append(text) {
          messages.push({
            role: messages.length % 2 === 0 ? "user" : "assistant",
            content: [{ type: "text", text }],
          });
        },
      };
    },
    rein: (rein, url) =>
      reinSubject(
        rein,
        new rein.AnthropicModel({ model: "claude-sonnet-4-6", apiKey: "bench", baseURL: url, env: {} }),
        0,
      ),
  },
  {
    name: "openai responses",
    async direct(url) {
      const { default: OpenAI } = await import("openai");
      const client = new OpenAI({ apiKey: "bench", baseURL: `${url}/v1`, maxRetries: 0 });
      const input: {
        type: "message";
        role: "user" | "assistant";
        content: { type: "input_text" | "output_text"; text: string }[];
      }[] = [];
      return {
        async call() {
          const stream = await client.responses.create({
            model: "gpt-4.1",
            instructions: SYSTEM,
            input: input as never,
            max_output_tokens: 256,
            store: false,
            stream: true,
          });
          for await (const _ of stream);
        },
        append(text) {
          const user = input.length % 2 === 0;
          input.push({
            type: "message",
            role: user ? "user" : "assistant",
            content: [{ type: user ? "input_text" : "output_text", text }],
          });
        },
      };
    },
    rein: (rein, url) =>
      reinSubject(
        rein,
        rein.openaiModel({ model: "gpt-4.1", apiKey: "bench", baseURL: `${url}/v1`, env: {} }),
        0,
      ),
  },
  {
    name: "chat completions",
    async direct(url) {
      const { default: OpenAI } = await import("openai");
      const client = new OpenAI({ apiKey: "bench", baseURL: `${url}/v1`, maxRetries: 0 });
      const messages: { role: "system" | "user" | "assistant"; content: string }[] = [
        { role: "system", content: SYSTEM },
      ];
      return {
        async call() {
          const stream = await client.chat.completions.create({
            model: "gpt-4.1",
            messages,
            max_completion_tokens: 256,
            stream: true,
            stream_options: { include_usage: true },
          });
          for await (const _ of stream);
        },
        append(text) {
          messages.push({ role: messages.length % 2 === 1 ? "user" : "assistant", content: text });
        },
      };
    },
    rein: (rein, url) =>
      reinSubject(
        rein,
        rein.openaiModel({ model: "gpt-4.1", api: "chat", apiKey: "bench", baseURL: `${url}/v1`, env: {} }),
        0,
      ),
  },
];

/**
 * Rein's own work per call, without I/O: the provider's request body (incremental conversion) plus a
 * gateway pass over a model that answers at once. This is what the end-to-end "added" column hides in
 * the network's noise.
 */
async function ownWork(
  rein: Rein,
  size: number,
  calls: number,
): Promise<{ bodyUs: number; gatewayUs: number }> {
  const model = new rein.AnthropicModel({
    model: "claude-sonnet-4-6",
    apiKey: "bench",
    baseURL: "http://127.0.0.1:9",
    env: {},
  });
  const history = reinHistory(size);
  const request = {
    system: SYSTEM,
    messages: history,
    tools: [],
    maxTokens: 256,
    signal: new AbortController().signal,
  };
  model.body(request);
  let t = performance.now();
  for (let i = 0; i < calls; i++) {
    history.push({
      role: history.length % 2 === 0 ? "user" : "assistant",
      content: [{ type: "text", text: userText(i) }],
    });
    model.body(request);
  }
  const bodyUs = ((performance.now() - t) / calls) * 1000;
  const answer = {
    content: [{ type: "text" as const, text: "ok" }],
    stopReason: "end_turn" as const,
    usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
    model: "anthropic:x",
  };
  const instant = { id: "anthropic:x", endpoint: "anthropic@bench", generate: async () => answer };
  const g = rein.gateway({ models: [instant], state: new rein.GatewayState() });
  const direct = { ...request, onTextDelta: () => {} };
  for (let i = 0; i < 1000; i++) await instant.generate();
  t = performance.now();
  for (let i = 0; i < calls; i++) await instant.generate();
  const bare = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < calls; i++) await g.generate(direct);
  const gatewayUs = ((performance.now() - t - bare) / calls) * 1000;
  return { bodyUs, gatewayUs };
}

async function startServer(): Promise<{ url: string; stop(): void }> {
  const child = fork(fileURLToPath(new URL("./gateway/server.ts", import.meta.url)), [], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout?.once("data", (d: Buffer) => resolve(d.toString().trim()));
    child.once("exit", (code) => reject(new Error(`bench server exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

async function run(options: BenchOptions): Promise<BenchOutput> {
  const unknown = Object.keys(options.flags).filter((f) => f !== "calls");
  if (unknown.length > 0) throw new Error(`gateway: unknown flag(s) --${unknown.join(", --")}`);
  const calls = Number(options.flags.calls ?? (options.quick ? 150 : 1000));
  const warmup = Math.max(20, Math.floor(calls / 10));
  const sizes = [2, 2000];
  const rein = (await import("../dist/index.js")) as Rein;
  const server = await startServer();
  const rows: string[][] = [];
  const json: Record<string, unknown>[] = [];
  try {
    for (const protocol of PROTOCOLS) {
      for (const size of sizes) {
        const direct = await protocol.direct(server.url);
        const ours = protocol.rein(rein, server.url);
        // Both start from the same conversation: Rein's in Rein's format, the SDK's already in its own.
        for (const m of reinHistory(size)) {
          direct.append((m.content[0] as { text: string }).text);
          ours.append((m.content[0] as { text: string }).text);
        }
        const times = { direct: [] as number[], rein: [] as number[] };
        for (let i = 0; i < warmup + calls; i++) {
          const text = userText(size + i);
          // Alternate which subject goes first, so neither always gets the warmer connection.
          const order = i % 2 === 0 ? (["direct", "rein"] as const) : (["rein", "direct"] as const);
          for (const who of order) {
            const subject = who === "direct" ? direct : ours;
            subject.append(text);
            const t = performance.now();
            await subject.call();
            if (i >= warmup) times[who].push(performance.now() - t);
          }
        }
        const p50d = median(times.direct);
        const p50r = median(times.rein);
        // Paired: the two calls of one iteration run back to back, so their difference cancels the
        // machine's drift (other processes on a shared box) far better than a difference of medians.
        const added = median(times.rein.map((r, i) => r - (times.direct[i] as number)));
        options.log(
          `${protocol.name} @ ${size}: SDK p50 ${p50d.toFixed(3)} ms, Rein p50 ${p50r.toFixed(3)} ms`,
        );
        rows.push([
          protocol.name,
          String(size),
          p50d.toFixed(3),
          p50r.toFixed(3),
          added.toFixed(3),
          quantile(times.direct, 0.9).toFixed(3),
          quantile(times.rein, 0.9).toFixed(3),
          `${(p50r / p50d).toFixed(2)}×`,
        ]);
        json.push({
          protocol: protocol.name,
          historyMessages: size,
          calls,
          p50DirectMs: p50d,
          p50ReinMs: p50r,
          addedP50Ms: added,
          p90DirectMs: quantile(times.direct, 0.9),
          p90ReinMs: quantile(times.rein, 0.9),
        });
      }
    }
  } finally {
    server.stop();
  }
  const own: string[][] = [];
  for (const size of sizes) {
    const w = await ownWork(rein, size, options.quick ? 2_000 : 20_000);
    own.push([
      String(size),
      w.bodyUs.toFixed(2),
      w.gatewayUs.toFixed(2),
      (w.bodyUs + w.gatewayUs).toFixed(2),
    ]);
    json.push({ ownWork: true, historyMessages: size, bodyUs: w.bodyUs, gatewayUs: w.gatewayUs });
  }
  return {
    tables: [
      {
        title: `Per-call time, official SDK alone vs Rein provider + gateway (${calls} calls each, streamed, loopback server in another process)`,
        header: [
          "protocol",
          "history",
          "SDK p50 ms",
          "Rein p50 ms",
          "added ms (paired p50)",
          "SDK p90 ms",
          "Rein p90 ms",
          "ratio",
        ],
        rows,
        notes: [
          "history: messages in the conversation at the start; each call appends one more to both subjects.",
          "added = median over iterations of (Rein call − SDK call), the two calls of an iteration back to back; target < 0.2 ms, and no growth from 2 to 2,000 messages.",
        ],
      },
      {
        title:
          "Rein's own work per call, in process (no I/O): request body from the history, and a gateway pass",
        header: ["history", "body µs", "gateway µs", "total µs"],
        rows: own,
        notes: [
          "body: the Anthropic provider's request (incremental conversion + cache breakpoint move); gateway: retry/breaker/ledger bookkeeping over a model that answers at once.",
        ],
      },
    ],
    json,
  };
}

const bench: Benchmark = {
  name: "gateway",
  description:
    "per-call overhead of Rein's provider + gateway over the official SDK, at 2 and 2,000 history messages",
  run,
};
export default bench;
