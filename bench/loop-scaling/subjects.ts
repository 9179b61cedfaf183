/**
 * The subjects of the loop-scaling benchmark: Rein, two baselines and the peers, all doing the same
 * workload: N turns of one no-op tool call (input `{}`, result "ok"), then a final "done".
 * Each subject loads lazily, so a fresh child process only imports what it measures.
 */
import { join } from "node:path";
import type { Harness, RunResult, Session } from "../../dist/index.js";

export const SUBJECT_IDS = ["rein", "plain-loop", "serialise-loop", "openai-agents", "ai-sdk"] as const;
export type SubjectId = (typeof SUBJECT_IDS)[number];

/**
 * The workload's shape: tool calls per model turn and the tool's result. "one": one no-op call per
 * turn answering "ok" (the project's own shape); "two": two calls per turn, each answering ~1 KB
 * of text (issue 24 item 5). N counts tool calls in both: "two" makes N/2 turns.
 */
export const SHAPES = {
  one: { perTurn: 1, result: "ok" },
  two: { perTurn: 2, result: kilobyteResult() },
} as const;
export type ShapeId = keyof typeof SHAPES;
export type Shape = (typeof SHAPES)[ShapeId];

/** ~1 KB of plain prose (what a file read or a search hit returns), the same for every subject. */
function kilobyteResult(): string {
  const line =
    "The quarterly report lists revenue by region, the open invoices and the notes from the review. ";
  return line.repeat(Math.ceil(1024 / line.length)).slice(0, 1024);
}

export interface Subject {
  readonly id: SubjectId;
  readonly label: string;
  readonly kind: "rein" | "baseline" | "peer";
  /** `true`, or why the subject cannot run (e.g. its package failed to import). */
  readonly available: true | string;
  /** Runs the workload; resolves with everything the caller holds afterwards (its result object). */
  run(calls: number, shape: Shape): Promise<unknown>;
  /** Throws unless `held` shows exactly `calls` tool calls and a completed run. */
  check(held: unknown, calls: number): void;
}

/** The tool of a shape: returns its result. */
const toolOf =
  (shape: Shape) =>
  async (_input: object): Promise<string> =>
    shape.result;

/** The scripted turns of a shape: N calls in turns of `perTurn`, then "done". */
function turnsOf(calls: number, shape: Shape) {
  if (calls % shape.perTurn !== 0) throw new Error(`N=${calls} is not a multiple of ${shape.perTurn}`);
  const call = { tool: "noop", input: {} };
  return {
    turns: calls / shape.perTurn,
    calls: Array.from({ length: shape.perTurn }, () => call),
  };
}

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
    async run(calls, shape) {
      const tool = rein.defineTool({
        name: "noop",
        description: "Does nothing and returns ok.",
        input: z.object({}),
        risk: { level: "LOW", reason: "does nothing" },
        execute: toolOf(shape),
      });
      const plan = turnsOf(calls, shape);
      const harness = rein.createHarness({
        model: rein.scriptedModel({
          name: "bench",
          turns: [{ tool_calls: plan.calls, repeat: plan.turns }, { say: "done" }],
        }),
        tools: [tool],
        workspace: workdir,
        audit: { dir: join(workdir, ".rein", "audit") },
        limits: { maxTurns: plan.turns + 1 },
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
      // 4 events per tool call (requested/decided/started/finished) and 2 per turn (model call started/finished).
      const least = 4 * calls + 2 * result.turns;
      if (events < least)
        throw new Error(`Rein streamed only ${events} events for ${calls} calls (${least} expected)`);
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
  async run(calls, shape) {
    const tool = toolOf(shape);
    let results = 0;
    for (let i = 0; i < calls; i++) if ((await tool({})) === shape.result) results++;
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
  async run(calls, shape) {
    const tool = toolOf(shape);
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
    for (let turn = 1; turn <= calls / shape.perTurn; turn++) {
      request();
      const uses = Array.from({ length: shape.perTurn }, (_, i) => ({
        type: "tool_use",
        id: `toolu_${turn}_${i}`,
        name: "noop",
        input: {},
      }));
      messages.push({ role: "assistant", content: uses });
      const results: unknown[] = [];
      for (const use of uses) {
        const content = await tool({});
        toolCalls++;
        results.push({ type: "tool_result", tool_use_id: use.id, content });
      }
      messages.push({ role: "user", content: results });
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
