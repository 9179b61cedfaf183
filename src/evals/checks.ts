/**
 * A case's checks, run against what one run left behind: the workspace's files, the transcript
 * (its events) and the final answer. Each failed check is one reason, worded so that equal failures
 * group together in the report.
 */
import { readFileSync } from "node:fs";
import { resolve, sep } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { ReinEvent } from "../protocol/events.js";
import type { Message } from "../protocol/messages.js";
import type { CallPattern, CheckContext, ExpectSpec } from "./suite-schema.js";

export interface CheckInput {
  readonly caseId: string;
  readonly runIndex: number;
  readonly workspace: string;
  readonly events: readonly ReinEvent[];
  readonly messages: readonly Message[];
  readonly finalText: string;
  readonly stopReason: string;
}

export interface CheckOutcome {
  readonly passed: boolean;
  /** Why it failed: one line per failed check (empty when passed). */
  readonly reasons: readonly string[];
}

/** A call the transcript shows: the tool, its input, and whether it ran. */
export interface SeenCall {
  readonly tool: string;
  readonly input: unknown;
  readonly executed: boolean;
}

/** Every tool call the model asked for, in order, with whether the harness ran it. */
export function callsOf(events: readonly ReinEvent[]): SeenCall[] {
  const byId = new Map<string, { tool: string; input: unknown; executed: boolean }>();
  const order: string[] = [];
  for (const e of events) {
    if (e.type === "tool_call_requested") {
      byId.set(e.data.callId, { tool: e.data.tool, input: e.data.input, executed: false });
      order.push(e.data.callId);
    } else if (e.type === "tool_call_finished") {
      const c = byId.get(e.data.callId);
      if (c) c.executed = e.data.executed;
    }
  }
  return order.map((id) => byId.get(id)!);
}

function matches(call: SeenCall, pattern: CallPattern): boolean {
  if (call.tool !== pattern.tool) return false;
  if (!pattern.input) return true;
  const input = (call.input ?? {}) as Record<string, unknown>;
  return Object.entries(pattern.input).every(([k, v]) => isDeepStrictEqual(input[k], v));
}

function describeCall(p: CallPattern): string {
  return p.input ? `${p.tool} ${JSON.stringify(p.input)}` : p.tool;
}

/** A workspace file's text, or undefined; never reads outside the workspace. */
export function readWorkspaceFile(workspace: string, path: string): string | undefined {
  const full = resolve(workspace, path);
  if (full !== workspace && !full.startsWith(workspace + sep)) return undefined;
  try {
    return readFileSync(full, "utf8");
  } catch {
    return undefined;
  }
}

/** `$.a.b[0]` into a value; `undefined` when a step is missing. */
export function jsonPath(value: unknown, path: string): unknown {
  let v = value;
  for (const m of path.slice(1).matchAll(/\.([^.[]+)|\[(\d+)\]/g)) {
    if (v === null || typeof v !== "object") return undefined;
    const key = m[1] ?? Number(m[2]);
    if (!Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

/** Runs every check of `expect`; a custom check that throws propagates (the runner counts it as an infrastructure error). */
export async function runChecks(expect: ExpectSpec, input: CheckInput): Promise<CheckOutcome> {
  const reasons: string[] = [];
  const wanted = expect.stopReason ?? "completed";
  if (input.stopReason !== wanted) reasons.push(`stop reason ${input.stopReason} (expected ${wanted})`);

  for (const f of expect.files ?? []) {
    const text = readWorkspaceFile(input.workspace, f.path);
    if (f.exists === false) {
      if (text !== undefined) reasons.push(`file ${f.path}: exists (expected absent)`);
      continue;
    }
    if (text === undefined) {
      reasons.push(`file ${f.path}: missing`);
      continue;
    }
    if (f.equals !== undefined && text !== f.equals) reasons.push(`file ${f.path}: content differs`);
    if (f.matches !== undefined && !new RegExp(f.matches, "u").test(text))
      reasons.push(`file ${f.path}: does not match /${f.matches}/`);
    if (f.json !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        reasons.push(`file ${f.path}: not JSON`);
        continue;
      }
      if (!isDeepStrictEqual(jsonPath(parsed, f.json.path), f.json.equals))
        reasons.push(`file ${f.path}: ${f.json.path} is not ${JSON.stringify(f.json.equals)}`);
    }
  }

  const calls = callsOf(input.events);
  const tools = expect.tools;
  if (tools?.called) {
    const ran = calls.filter((c) => c.executed);
    if (tools.ordered) {
      let at = 0;
      for (const p of tools.called) {
        const found = ran.findIndex((c, i) => i >= at && matches(c, p));
        if (found < 0) {
          reasons.push(`tool call ${describeCall(p)}: not made in order`);
          break;
        }
        at = found + 1;
      }
    } else {
      const used = new Set<number>();
      for (const p of tools.called) {
        const found = ran.findIndex((c, i) => !used.has(i) && matches(c, p));
        if (found < 0) reasons.push(`tool call ${describeCall(p)}: not made`);
        else used.add(found);
      }
    }
  }
  for (const p of tools?.forbidden ?? [])
    if (calls.some((c) => matches(c, p))) reasons.push(`forbidden tool call ${describeCall(p)}: attempted`);

  const final = expect.final;
  if (final) {
    if (final.equals !== undefined && input.finalText !== final.equals) reasons.push("final answer: differs");
    const parts =
      final.contains === undefined ? [] : Array.isArray(final.contains) ? final.contains : [final.contains];
    for (const part of parts)
      if (!input.finalText.includes(part)) reasons.push(`final answer: lacks ${JSON.stringify(part)}`);
    if (final.matches !== undefined && !new RegExp(final.matches, "u").test(input.finalText))
      reasons.push(`final answer: does not match /${final.matches}/`);
  }

  if (expect.custom) {
    const context: CheckContext = {
      caseId: input.caseId,
      runIndex: input.runIndex,
      workspace: input.workspace,
      readFile: (path) => readWorkspaceFile(input.workspace, path),
      events: input.events,
      messages: input.messages,
      finalText: input.finalText,
    };
    const r = await expect.custom(context);
    if (r === false) reasons.push("custom check: failed");
    else if (typeof r === "object" && r !== null && r.pass !== true)
      reasons.push(`custom check: ${r.reason ?? "failed"}`);
    else if (r !== true && (typeof r !== "object" || r === null))
      reasons.push(`custom check: returned ${typeof r}, expected a boolean or { pass }`);
  }
  return { passed: reasons.length === 0, reasons };
}
