import type { Ledger, LedgerScope } from "../guards/ledger.js";
import type { ApprovalDecision, ApprovalRequest } from "../protocol/approval.js";
import type { ReinEvent } from "../protocol/events.js";
import type { RunStatus } from "../protocol/stop-reason.js";
import type { EventLog, LogScope } from "./event-log.js";

/** What a session record says about a session: derived from its events as they are committed. */
export interface SessionRecord {
  readonly tenantId: string;
  readonly sessionId: string;
  /** `idle` before its first run; the last run's status; `running` while (or when a crash left) a run open; `closed`. */
  readonly status: RunStatus | "idle" | "closed";
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly lastSeq: number;
  readonly model: string;
  readonly workspace: string | null;
  /** The task of the last run. */
  readonly task: string | null;
}

/** The session record after `event` (pure: both stores derive records with it). */
export function nextSessionRecord(record: SessionRecord | undefined, event: ReinEvent): SessionRecord {
  const base: SessionRecord = record ?? {
    tenantId: event.tenantId,
    sessionId: event.sessionId,
    status: "idle",
    createdAt: event.ts,
    updatedAt: event.ts,
    lastSeq: 0,
    model: "",
    workspace: null,
    task: null,
  };
  const next = { ...base, updatedAt: event.ts, lastSeq: event.seq };
  switch (event.type) {
    case "session_started":
      return { ...next, model: event.data.model, workspace: event.data.workspace };
    case "run_started":
      return { ...next, status: "running", task: event.data.task };
    case "run_resumed":
      return { ...next, status: "running" };
    case "run_ended":
      return { ...next, status: event.data.status };
    case "session_ended":
      // A run that waits for approvals (or that a crash interrupted) stays resumable after close.
      return base.status === "requires_action" ? next : { ...next, status: "closed" };
    default:
      return next;
  }
}

/** A durable approval: the request, its expiry and timeout rule, and the decision once given. */
export interface ApprovalRecord extends ApprovalRequest {
  readonly expiresAt: number;
  /** What an expired approval resolves to. Default: deny. */
  readonly onTimeout: "deny" | "approve";
  readonly status: "pending" | "approved" | "denied" | "expired";
  /** Set once decided (or expired). */
  readonly decision: Extract<ApprovalDecision, { outcome: "approved" | "denied" | "timeout" }> | null;
  readonly decidedAt: number | null;
}

/** A person's (or program's) decision on a pending approval. */
export type ApprovalVerdict =
  | { readonly outcome: "approved"; readonly scope: "once" | "session" }
  | { readonly outcome: "denied"; readonly reason: string };

/**
 * Pending approvals, decided from any process. `decide` is atomic: the first decision wins; the
 * same decision again returns the record unchanged (one execution), a conflicting one throws
 * `REIN_APPROVAL_CONFLICT`, one past the expiry throws `REIN_APPROVAL_EXPIRED` (the `onTimeout` rule
 * stands), one naming another arguments hash throws `REIN_APPROVAL_ARGS_MISMATCH`.
 */
export interface ApprovalStore {
  create(record: Omit<ApprovalRecord, "status" | "decision" | "decidedAt">): void;
  get(id: string): ApprovalRecord | undefined;
  /** The latest approval of this exact call (session, turn, call id and arguments hash). */
  findCall(scope: LogScope, turn: number, callId: string, argsHash: string): ApprovalRecord | undefined;
  /** Whether the session has an approval of scope `session` for these exact arguments. */
  approvedForSession(scope: LogScope, argsHash: string): boolean;
  list(filter?: {
    readonly tenantId?: string;
    readonly status?: ApprovalRecord["status"];
  }): readonly ApprovalRecord[];
  decide(
    id: string,
    verdict: ApprovalVerdict,
    options: { readonly by: string; readonly argsHash?: string; readonly now?: number },
  ): ApprovalRecord;
  /** Marks a pending approval past its expiry as expired (the gate does it when it reads one). */
  expire(id: string, now?: number): ApprovalRecord;
}

export interface SessionIndex {
  get(scope: LogScope): SessionRecord | undefined;
  /** Most recently updated first. */
  list(filter?: { readonly tenantId?: string; readonly limit?: number }): readonly SessionRecord[];
}

/**
 * Everything durable about sessions, in one place: the event log, the session records, the ledger
 * and pending approvals. `MemoryStore` (one process), `SqliteStore` (a file; survives a crash, shared
 * by the processes of one machine). Every implementation passes `storeContract` from `rein/testing`.
 */
export interface Store {
  readonly name: string;
  readonly eventLog: EventLog;
  readonly ledger: Ledger & { openReservations(scope: LedgerScope): readonly OpenReservation[] };
  readonly approvals: ApprovalStore;
  readonly sessions: SessionIndex;
  /** Commits what is buffered and releases the store (a file handle, a connection). */
  close(): Promise<void>;
}

/** A reservation still open in the ledger (after a crash: a call whose outcome is unknown). */
export interface OpenReservation {
  readonly key: string;
  readonly model: string;
  readonly estimateUsd: number;
  readonly estimateTokens: number;
}
