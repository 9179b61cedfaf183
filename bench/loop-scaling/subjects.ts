/**
 * The subjects of the loop-scaling benchmark: Rein, two baselines and the peers, all doing the same
 * workload: N turns of one no-op tool call (input `{}`, result "ok"), then a final "done".
 * Each subject loads lazily, so a fresh child process only imports what it measures.
 */
import { join } from "node:path";
import type { Harness, RunResult, Session } from "../../dist/index.js";

export const SUBJECT_IDS = ["rein", "plain-loop", "serialise-loop", "openai-agents", "ai-sdk"] as const;
export type SubjectId = (typeof SUBJECT_IDS)[number];

export interface Subject {
  readonly id: SubjectId;
  readonly label: string;
  readonly kind: "rein" | "baseline" | "peer";
  /** `true`, or why the subject cannot run (e.g. its package failed to import). */
  readonly available: true | string;
  /** Runs the workload; resolves with everything the caller holds afterwards (its result object). */
  run(calls: number): Promise<unknown>;
  /** Throws unless `held` shows exactly `calls` tool calls and a completed run. */
  check(held: unknown, calls: number): void;
}

const noop = async (_input: object): Promise<string> => "ok";

function expectCalls(subject: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${subject} made ${actual} tool calls, expected ${expected}`);
}

/** `workdir`: a scratch directory for Rein's workspace and audit trail. */
export async function loadSubject(id: SubjectId, workdir: string): Promise<Subject> {
  switch (id) {
    case "rein":
      return loadRein(workdir);
    case "plain-loop":
      return plainLoop;
    case "serialise-loop":
      return serialiseLoop;
    case "openai-agents":
      return loadOpenAiAgents();
    case "ai-sdk":
      return loadAiSdk();
  }
}

export function loadSubjects(workdir: string): Promise<Subject[]> {
  return Promise.all(SUBJECT_IDS.map((id) => loadSubject(id, workdir)));
}

/**
 * Rein through its public API, set up the way `rein run` sets it up: a workspace (so the built-in
 * tools are registered), the audit trail under the workspace's `.rein/audit`, the default in-memory
 * event log and default limits except `maxTurns`, every event read from `session.stream()`, and the
 * session closed at the end.
 */
async function loadRein(workdir: string): Promise<Subject> {
  const rein = await import("../../dist/index.js");
  const { z } = await import("zod");
  type Held = { harness: Harness; session: Session; result: RunResult; events: number };
  return {
    id: "rein",
    label: "Rein (dist, every CLI default on)",
    kind: "rein",
    available: true,
    async run(calls) {
      const tool = rein.defineTool({
        name: "noop",
        description: "Does nothing and returns ok.",
        input: z.object({}),
        risk: { level: "LOW", reason: "does nothing" },
        execute: noop,
      });
      const harness = rein.createHarness({
        model: rein.scriptedModel({
          name: "bench",
          turns: [{ tool_calls: [{ tool: "noop", input: {} }], repeat: calls }, { say: "done" }],
        }),
        tools: [tool],
        workspace: workdir,
        audit: { dir: join(workdir, ".rein", "audit") },
        limits: { maxTurns: calls + 1 },
      });
      const session = harness.session();
      const stream = session.stream("go");
      let events = 0;
      for await (const _event of stream) events++;
      const result = await stream.result;
      await session.close();
      return { harness, session, result, events } satisfies Held;
    },
    check(held, calls) {
      const { harness, session, result, events } = held as Held;
      if (result.status !== "completed" || result.finalText !== "done") {
        throw new Error(`Rein run ended ${result.status}: ${JSON.stringify(result.stopReason)}`);
      }
      expectCalls("Rein", result.toolCalls, calls);
      // 6 events per tool call (model call started/finished, tool call requested/decided/started/finished).
      if (events < 6 * calls) throw new Error(`Rein streamed only ${events} events for ${calls} calls`);
      const file = harness.auditFile(session.id);
      const audit = file === undefined ? undefined : rein.verifyAuditFile(file);
      if (!audit?.ok) throw new Error(`Rein's audit trail is missing or broken: ${JSON.stringify(audit)}`);
      expectCalls("Rein's audit trail", audit.records, calls);
    },
  };
}

/** Baseline: the tool function called N times; the cost of nothing but the calls themselves. */
const plainLoop: Subject = {
  id: "plain-loop",
  label: "baseline: plain loop awaiting the tool function",
  kind: "baseline",
  available: true,
  async run(calls) {
    let results = 0;
    for (let i = 0; i < calls; i++) if ((await noop({})) === "ok") results++;
    return { results };
  },
  check(held, calls) {
    expectCalls("plain loop", (held as { results: number }).results, calls);
  },
};

/**
 * Baseline: a hand-written loop keeping an Anthropic-shaped messages array (assistant `tool_use`,
 * user `tool_result` per turn) and serialising the whole request once per model call: the
 * O(history) work a real provider call imposes, and nothing else.
 */
const serialiseLoop: Subject = {
  id: "serialise-loop",
  label: "baseline: messages array + JSON.stringify of the whole request per turn",
  kind: "baseline",
  available: true,
  async run(calls) {
    const tools = [
      {
        name: "noop",
        description: "Does nothing and returns ok.",
        input_schema: { type: "object", properties: {}, additionalProperties: false },
      },
    ];
    const messages: unknown[] = [{ role: "user", content: [{ type: "text", text: "go" }] }];
    let requestBytes = 0;
    const request = () => {
      const body = {
        model: "bench",
        max_tokens: 4096,
        system: "Call noop until told otherwise.",
        tools,
        messages,
      };
      requestBytes += JSON.stringify(body).length;
    };
    let toolCalls = 0;
    for (let turn = 1; turn <= calls; turn++) {
      request();
      const id = `toolu_${turn}`;
      messages.push({ role: "assistant", content: [{ type: "tool_use", id, name: "noop", input: {} }] });
      const content = await noop({});
      toolCalls++;
      messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: id, content }] });
    }
    request();
    messages.push({ role: "assistant", content: [{ type: "text", text: "done" }] });
    return { messages, toolCalls, requestBytes };
  },
  check(held, calls) {
    expectCalls("serialise loop", (held as { toolCalls: number }).toolCalls, calls);
  },
};

async function loadOpenAiAgents(): Promise<Subject> {
  const peer = await import("../peers/openai-agents.ts");
  return {
    id: "openai-agents",
    label: peer.name,
    kind: "peer",
    available: await peer.available(),
    run: peer.runPeer,
    check(held, calls) {
      const result = held as { newItems: readonly { type: string }[]; finalOutput: unknown };
      const made = result.newItems.filter((item) => item.type === "tool_call_output_item").length;
      expectCalls("openai-agents", made, calls);
      if (result.finalOutput !== "done")
        throw new Error(`openai-agents ended with ${String(result.finalOutput)}`);
    },
  };
}

async function loadAiSdk(): Promise<Subject> {
  const peer = await import("../peers/ai-sdk.ts");
  return {
    id: "ai-sdk",
    label: peer.name,
    kind: "peer",
    available: await peer.available(),
    run: peer.runPeer,
    check(held, calls) {
      const result = held as { steps: readonly { toolResults: readonly unknown[] }[]; text: string };
      const made = result.steps.reduce((sum, step) => sum + step.toolResults.length, 0);
      expectCalls("ai-sdk", made, calls);
      if (result.text !== "done") throw new Error(`ai-sdk ended with ${result.text}`);
    },
  };
}
