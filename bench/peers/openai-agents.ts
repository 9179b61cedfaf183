/**
 * Benchmark peer: the OpenAI Agents SDK (`@openai/agents`) driving one agent session through
 * `Runner.run()` with a scripted in-process `Model` (no network, no API key).
 *
 * Workload (identical across peers): one agent, one tool `noop` (input `{}`, returns "ok"). The
 * model issues exactly one `noop` call per turn, with ids `call_1` … `call_<calls>`, then answers
 * "done" with no tool call. The model counts turns in a closure and never reads the request, so
 * any per-call growth in cost belongs to the SDK's own loop.
 */

import type { Model, ModelRequest, ModelResponse, StreamEvent } from "@openai/agents";
import { installedVersion } from "../lib/installed-version.ts";

const PACKAGE = "@openai/agents";

const version = installedVersion(PACKAGE);

export const name: string = version ? `${PACKAGE} ${version} run()` : `${PACKAGE} (not installed) run()`;

type AgentsModule = typeof import("@openai/agents");
type ZodModule = typeof import("zod");

interface Loaded {
  agents: AgentsModule;
  z: ZodModule["z"];
  runner: InstanceType<AgentsModule["Runner"]>;
}

let loaded: Loaded | undefined;

/** Imports lazily (so a missing package only makes `available()` report it) and caches success. */
async function load(): Promise<Loaded> {
  if (loaded) return loaded;
  const agents = await import("@openai/agents");
  const { z } = await import("zod");
  // Tracing off globally (covers the default trace provider/exporter) and per run.
  agents.setTracingDisabled(true);
  const runner = new agents.Runner({ tracingDisabled: true, traceIncludeSensitiveData: false });
  loaded = { agents, z, runner };
  return loaded;
}

export async function available(): Promise<true | string> {
  try {
    await load();
    return true;
  } catch (err) {
    return `cannot import ${PACKAGE}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** A scripted model: `calls` turns of one `noop` function call each, then a final "done" message. */
function scriptedModel(agents: AgentsModule, calls: number, perTurn: number): Model {
  let issued = 0;
  const usage = () => new agents.Usage({ requests: 1, inputTokens: 10, outputTokens: 5, totalTokens: 15 });
  return {
    async getResponse(_request: ModelRequest): Promise<ModelResponse> {
      if (issued < calls) {
        const output = Array.from({ length: perTurn }, () => {
          issued += 1;
          return {
            type: "function_call" as const,
            id: `fc_${issued}`,
            callId: `call_${issued}`,
            name: "noop",
            arguments: "{}",
            status: "completed" as const,
          };
        });
        return { usage: usage(), responseId: `resp_${issued}`, output };
      }
      return {
        usage: usage(),
        responseId: "resp_final",
        output: [
          {
            type: "message",
            id: "msg_final",
            role: "assistant",
            status: "completed",
            content: [{ type: "output_text", text: "done" }],
          },
        ],
      };
    },
    getStreamedResponse(_request: ModelRequest): AsyncIterable<StreamEvent> {
      throw new Error("scripted benchmark model does not stream");
    },
  };
}

/** `shape`: tool calls per turn and the tool's result (default: one call answering "ok"). */
export async function runPeer(
  calls: number,
  shape: { readonly perTurn: number; readonly result: string } = { perTurn: 1, result: "ok" },
): Promise<unknown> {
  const { agents, z, runner } = await load();
  const noop = agents.tool({
    name: "noop",
    description: "Does nothing and returns ok.",
    parameters: z.object({}),
    execute: async () => shape.result,
  });
  const agent = new agents.Agent({
    name: "bench",
    instructions: "Call noop until told otherwise.",
    model: scriptedModel(agents, calls, shape.perTurn),
    tools: [noop],
  });
  return runner.run(agent, "go", { maxTurns: calls / shape.perTurn + 10 });
}
