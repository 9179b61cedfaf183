/**
 * Test doubles, probes and contract suites, as `rein/testing`. The scripted model is the
 * first-class test double for models. Every interface has one contract suite in `testing/`
 * (`<name>-contract.ts`), run by every implementation; the suites import vitest, an optional peer
 * dependency that `import "rein"` never loads.
 */
import type { EventSink, EventType, ReinEvent } from "./protocol/events.js";
import type { Message } from "./protocol/messages.js";

export { ScriptedModel, scriptedModel } from "./models/providers/scripted/scripted-model.js";
export {
  APPROVING_ANSWERS,
  type ApprovalGateContractOptions,
  approvalDecisionSchema,
  approvalGateChecks,
  approvalGateContract,
  contractApprovalRequest,
  DENYING_ANSWERS,
  type GateBehaviour,
  thenable,
} from "./testing/approval-gate-contract.js";
export {
  type ContractCheck,
  type ContractCheckResult,
  type Factory,
  registerContract,
  runContractChecks,
} from "./testing/contract.js";
export {
  contractEvent,
  type EventLogContractOptions,
  eventLogChecks,
  eventLogContract,
} from "./testing/event-log-contract.js";
export { type LedgerContractOptions, ledgerChecks, ledgerContract } from "./testing/ledger-contract.js";
export {
  expectWellFormedResponse,
  type ModelContractOptions,
  type ModelContractReply,
  modelChecks,
  modelContract,
} from "./testing/model-contract.js";
export {
  CONTRACT_LIMITS,
  type ContractLimits,
  type SandboxContractOptions,
  sandboxChecks,
  sandboxContract,
} from "./testing/sandbox-contract.js";

/** A sink that keeps every event, for assertions. */
export function recordingSink(): EventSink & {
  readonly events: ReinEvent[];
  ofType<T extends EventType>(type: T): Extract<ReinEvent, { type: T }>[];
} {
  const events: ReinEvent[] = [];
  return {
    name: "recording",
    events,
    handle(event) {
      events.push(event);
    },
    ofType<T extends EventType>(type: T) {
      return events.filter((e): e is Extract<ReinEvent, { type: T }> => e.type === type);
    },
  };
}

/**
 * A history array that counts how many of its elements are read. Pass it as `session({ history })`:
 * a loop that copies, re-validates or re-scans the history each step reads O(history) elements per
 * step, and the count shows it.
 */
export function countingHistory(): { history: Message[]; readonly reads: number; reset(): void } {
  let reads = 0;
  const target: Message[] = [];
  const history = new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key === "string" && key.length > 0 && key.charCodeAt(0) >= 48 && key.charCodeAt(0) <= 57)
        reads++;
      return Reflect.get(t, key, receiver);
    },
  });
  return {
    history,
    get reads() {
      return reads;
    },
    reset() {
      reads = 0;
    },
  };
}
export { type StoreContractOptions, storeChecks, storeContract } from "./testing/store-contract.js";
