import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { ApprovalDecision } from "../approvals/approval-gate.js";
import { AuditError } from "../protocol/errors.js";
import type { EventSink, ReinEvent } from "../protocol/events.js";
import type { RiskAssessment } from "../protocol/risk.js";
import { AUDIT_VERSION, type AuditRecord, GENESIS_HASH, hashRecord } from "./audit-record.js";

const INPUT_MAX_CHARS = 4096;
const SUMMARY_MAX_CHARS = 500;

interface Pending {
  input: unknown;
  originalInput?: unknown;
  risk: RiskAssessment | null;
  verdict: "allow" | "deny";
  approval: ApprovalDecision | null;
}

/**
 * The audit trail: one JSONL record per tool call, derived from the event stream, each carrying the
 * hash of the previous record so any edit, insertion or deletion breaks the chain (`rein audit verify`).
 * Appending is O(1): the head hash lives in memory and the file is never re-read to append.
 */
export class AuditTrail implements EventSink {
  readonly name = "audit";
  readonly file: string;
  #fd: number | undefined;
  #prevHash = GENESIS_HASH;
  #index = 0;
  readonly #pending = new Map<string, Pending>();
  #turnCost = 0;
  #sessionCost = 0;

  constructor(file: string) {
    this.file = file;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const fd = openSync(file, "a+", 0o600);
      try {
        this.#resumeChain(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if (err instanceof AuditError) throw err;
      throw new AuditError(
        "REIN_AUDIT_WRITE_FAILED",
        `Cannot open the audit trail ${file}: ${(err as Error).message}`,
        { file },
      );
    }
  }

  /** The hash of the last record written (compare it with a copy kept elsewhere to detect truncation). */
  get headHash(): string {
    return this.#prevHash;
  }

  get records(): number {
    return this.#index;
  }

  handle(event: ReinEvent): void {
    switch (event.type) {
      case "model_call_finished":
        this.#turnCost = event.data.costUsd;
        this.#sessionCost = event.data.sessionCostUsd;
        return;
      case "tool_call_requested":
        this.#pending.set(event.data.callId, {
          input: event.data.input,
          risk: null,
          verdict: "deny",
          approval: null,
        });
        return;
      case "tool_call_decided": {
        const p = this.#pending.get(event.data.callId);
        if (p) {
          p.risk = event.data.risk;
          p.verdict = event.data.verdict;
          p.approval = event.data.approval;
        }
        return;
      }
      case "tool_call_started": {
        // The executed input (a rewriteToolInput hook may have replaced the model's, which is kept too).
        const p = this.#pending.get(event.data.callId);
        if (p) {
          p.input = event.data.input;
          if (event.data.originalInput !== undefined) p.originalInput = event.data.originalInput;
        }
        return;
      }
      case "tool_call_finished":
        this.#write(event);
        return;
      case "run_ended":
      case "session_ended":
        // No descriptor stays open between runs, even if the caller never closes the session.
        this.close();
        return;
      default:
        return;
    }
  }

  #write(event: Extract<ReinEvent, { type: "tool_call_finished" }>): void {
    const d = event.data;
    const p = this.#pending.get(d.callId);
    this.#pending.delete(d.callId);
    const record: Omit<AuditRecord, "hash"> = {
      v: AUDIT_VERSION,
      index: this.#index,
      ts: event.ts,
      tenantId: event.tenantId,
      sessionId: event.sessionId,
      runId: event.runId,
      seq: event.seq,
      turn: d.turn,
      callId: d.callId,
      tool: d.tool,
      input: boundedInput(p?.input),
      ...(p?.originalInput !== undefined ? { originalInput: boundedInput(p.originalInput) } : {}),
      output: {
        ok: d.ok,
        errorType: d.errorType,
        bytes: Buffer.byteLength(d.content),
        summary:
          d.content.length > SUMMARY_MAX_CHARS ? `${d.content.slice(0, SUMMARY_MAX_CHARS)}…` : d.content,
      },
      risk: p?.risk ?? null,
      decision: p?.verdict ?? "deny",
      approval: p?.approval ?? null,
      executed: d.executed,
      durationMs: Math.round(d.durationMs * 1000) / 1000,
      cost: { turnUsd: this.#turnCost, sessionUsd: this.#sessionCost },
      prevHash: this.#prevHash,
    };
    const body = JSON.stringify(record);
    const hash = hashRecord(body);
    const line = `${body.slice(0, -1)},"hash":"${hash}"}\n`;
    try {
      this.#fd ??= openSync(this.file, "a", 0o600);
      writeSync(this.#fd, line);
    } catch (err) {
      throw new AuditError(
        "REIN_AUDIT_WRITE_FAILED",
        `Cannot append to the audit trail ${this.file}: ${(err as Error).message}`,
        {
          file: this.file,
        },
      );
    }
    this.#prevHash = hash;
    this.#index++;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Continues an existing chain: reads only the file's last line, once, at open. */
  #resumeChain(fd: number): void {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const tailSize = Math.min(size, 1 << 20);
    const buf = Buffer.alloc(tailSize);
    readSync(fd, buf, 0, tailSize, size - tailSize);
    const text = buf.toString("utf8");
    if (!text.endsWith("\n")) {
      throw new AuditError(
        "REIN_AUDIT_UNREADABLE",
        `The audit trail ${this.file} ends with a partial record; run "rein audit verify ${this.file}".`,
        {
          file: this.file,
        },
      );
    }
    const lastLine = text.slice(text.lastIndexOf("\n", text.length - 2) + 1, -1);
    try {
      const last = JSON.parse(lastLine) as AuditRecord;
      if (typeof last.hash !== "string" || !Number.isInteger(last.index)) throw new Error("no hash or index");
      this.#prevHash = last.hash;
      this.#index = last.index + 1;
    } catch (err) {
      throw new AuditError(
        "REIN_AUDIT_UNREADABLE",
        `The last record of the audit trail ${this.file} is unreadable (${(err as Error).message}).`,
        {
          file: this.file,
        },
      );
    }
  }
}

function boundedInput(input: unknown): unknown {
  let json: string;
  try {
    json = JSON.stringify(input) ?? "null";
  } catch {
    return { unserialisable: true };
  }
  if (json.length <= INPUT_MAX_CHARS) return input;
  return {
    truncated: true,
    preview: json.slice(0, INPUT_MAX_CHARS),
    sha256: hashRecord(json),
    chars: json.length,
  };
}
