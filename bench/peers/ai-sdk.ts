/**
 * Benchmark peer: the Vercel AI SDK (`ai`) driving one agent session through `generateText()`
 * with its own test model `MockLanguageModelV4` from `ai/test` (AI SDK 7's current model
 * specification; no network, no API key).
 *
 * Workload (identical across peers): one agent, one tool `noop` (input `{}`, returns "ok"). The
 * model issues exactly one `noop` call per step, with ids `call_1` … `call_<calls>`, then answers
 * "done" with no tool call. The model counts steps in a closure and never reads the prompt, so
 * any per-call growth in cost belongs to the SDK's own loop.
 */
import { installedVersion } from "../lib/installed-version.ts";

const PACKAGE = "ai";

const version = installedVersion(PACKAGE);

export const name: string = version
  ? `ai (AI SDK) ${version} generateText()`
  : "ai (AI SDK, not installed) generateText()";

type AiModule = typeof import("ai");
type AiTestModule = typeof import("ai/test");
type ZodModule = typeof import("zod");
type MockModel = InstanceType<AiTestModule["MockLanguageModelV4"]>;
/** The V4 spec's generate result, taken from the mock so no undeclared package is referenced. */
type GenerateResult = Awaited<ReturnType<MockModel["doGenerate"]>>;

interface Loaded {
  ai: AiModule;
  test: AiTestModule;
  z: ZodModule["z"];
}

let loaded: Loaded | undefined;

/** Imports lazily (so a missing package only makes `available()` report it) and caches success. */
async function load(): Promise<Loaded> {
  if (loaded) return loaded;
  const [ai, test, zod] = await Promise.all([import("ai"), import("ai/test"), import("zod")]);
  loaded = { ai, test, z: zod.z };
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

const usage = (): GenerateResult["usage"] => ({
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
});

/** `shape`: tool calls per step and the tool's result (default: one call answering "ok"). */
export async function runPeer(
  calls: number,
  shape: { readonly perTurn: number; readonly result: string } = { perTurn: 1, result: "ok" },
): Promise<unknown> {
  const { ai, test, z } = await load();
  let issued = 0;
  const model: MockModel = new test.MockLanguageModelV4({
    doGenerate: async (): Promise<GenerateResult> => {
      // MockLanguageModelV4 appends every call's options (including the whole prompt) to
      // `doGenerateCalls` before calling us. That test-recording is not part of the SDK's loop and
      // would retain O(calls^2) prompt data, so drop it: the mock keeps at most one entry.
      model.doGenerateCalls.length = 0;
      if (issued < calls) {
        const content = Array.from({ length: shape.perTurn }, () => {
          issued += 1;
          return { type: "tool-call" as const, toolCallId: `call_${issued}`, toolName: "noop", input: "{}" };
        });
        return {
          content,
          finishReason: { unified: "tool-calls", raw: "tool_calls" },
          usage: usage(),
          warnings: [],
        };
      }
      return {
        content: [{ type: "text", text: "done" }],
        finishReason: { unified: "stop", raw: "stop" },
        usage: usage(),
        warnings: [],
      };
    },
  });
  return ai.generateText({
    model,
    instructions: "Call noop until told otherwise.",
    prompt: "go",
    tools: {
      noop: ai.tool({
        description: "Does nothing and returns ok.",
        inputSchema: z.object({}),
        execute: async () => shape.result,
      }),
    },
    stopWhen: ai.isStepCount(calls / shape.perTurn + 1),
    telemetry: { isEnabled: false },
  });
}
