import { hash } from "node:crypto";
import type { ApprovalDecision } from "../approvals/approval-gate.js";
import type { RiskAssessment } from "../protocol/risk.js";

export const AUDIT_VERSION = 1;
/** `prevHash` of the first record of a chain. */
export const GENESIS_HASH = "0".repeat(64);

/** One audit record: one tool call, whatever became of it. */
export interface AuditRecord {
  readonly v: typeof AUDIT_VERSION;
  /** Position in this chain, from 0. */
  readonly index: number;
  readonly ts: number;
  readonly tenantId: string;
  readonly sessionId: string;
  readonly runId: string;
  /** `seq` of the `tool_call_finished` event this record was derived from. */
  readonly seq: number;
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  /** The input the tool ran with (for a call that did not run: the model's). */
  readonly input: unknown;
  /** The model's input, when a `rewriteToolInput` hook replaced it before classification. */
  readonly originalInput?: unknown;
  readonly output: {
    readonly ok: boolean;
    readonly errorType: string | null;
    readonly bytes: number;
    readonly summary: string;
  };
  readonly risk: RiskAssessment | null;
  readonly decision: "allow" | "deny";
  readonly approval: ApprovalDecision | null;
  readonly executed: boolean;
  readonly durationMs: number;
  /** Cost of the model call that requested this tool call, and of the session so far. */
  readonly cost: { readonly turnUsd: number; readonly sessionUsd: number };
  readonly prevHash: string;
  readonly hash: string;
}

/** The hash of a record: sha256 over its JSON without the `hash` field (which includes `prevHash`, chaining it). */
export function hashRecord(body: string): string {
  return hash("sha256", body, "hex");
}
