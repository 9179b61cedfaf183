/**
 * The ApprovalGate contract (src/approvals/approval-gate.ts). The factory builds a gate whose
 * decider (a callback, a scripted terminal, a webhook on a loopback server) approves, denies or
 * never answers. Gates that relay an answer from a program (callback, webhook) also pass
 * `relaying`, and must approve on exactly `true` or `{ approve: true }`.
 *
 * ```ts
 * import { approvalGateContract } from "rein/testing";
 * approvalGateContract({
 *   name: "callbackGate",
 *   create: (behaviour) => callbackGate(() => behaviour === "approve" ? true : behaviour === "deny" ? { approve: false, reason: "no" } : new Promise(() => {})),
 *   relaying: (answer) => callbackGate(() => answer as never),
 * });
 * ```
 */
import { expect } from "vitest";
import { z } from "zod/v4";
import type { ApprovalGate } from "../approvals/approval-gate.js";
import type { ApprovalDecision, ApprovalRequest } from "../protocol/approval.js";
import { type ContractCheck, type Factory, registerContract } from "./contract.js";

/** How the gate's decider behaves: `wait` never answers (only the signal ends the wait). */
export type GateBehaviour = "approve" | "deny" | "wait";

export interface ApprovalGateContractOptions {
  /** Names the suite: `ApprovalGate contract: <name>`. */
  readonly name: string;
  /** A gate whose decider approves, denies, or never answers; called once per check. */
  readonly create: Factory<ApprovalGate, [behaviour: GateBehaviour]>;
  /**
   * For gates that relay a program's answer: a gate whose program answers exactly `answer`
   * (a callback returning it, a webhook responding with it as JSON).
   */
  readonly relaying?: Factory<ApprovalGate, [answer: unknown]>;
  /** Called after each check with the gate it used. */
  readonly dispose?: (gate: ApprovalGate) => void | Promise<void>;
}

/** Registers the ApprovalGate contract's checks as vitest tests. */
export function approvalGateContract(options: ApprovalGateContractOptions): void {
  registerContract(`ApprovalGate contract: ${options.name}`, approvalGateChecks(options));
}

/** The three shapes a decision may take, exactly (protocol/approval.ts `ApprovalDecision`). */
export const approvalDecisionSchema = z.discriminatedUnion("outcome", [
  z.strictObject({
    outcome: z.literal("approved"),
    by: z.string().min(1),
    scope: z.enum(["once", "session"]),
  }),
  z.strictObject({ outcome: z.literal("denied"), by: z.string().min(1), reason: z.string().min(1) }),
  z.strictObject({ outcome: z.literal("timeout"), by: z.string().min(1), resolution: z.literal("denied") }),
]);

function expectWellFormed(decision: unknown): asserts decision is ApprovalDecision {
  const parsed = approvalDecisionSchema.safeParse(decision);
  expect(parsed.success, `a well-formed decision, got ${safeJson(decision)}`).toBe(true);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A request for a HIGH call, frozen: a gate that writes into it throws instead of changing it. */
export function contractApprovalRequest(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const request: ApprovalRequest = {
    id: "apr_contract_1",
    tenantId: "tenant-a",
    sessionId: "session-1",
    runId: "run_1",
    callId: "toolu_1_0",
    tool: "delete_file",
    input: { path: "notes/old.txt" },
    argsHash: "0".repeat(64),
    risk: { level: "HIGH", reason: "deletes a file", rule: "contract" },
    requestedAt: 1_700_000_000_000,
    ...overrides,
  };
  return Object.freeze({
    ...request,
    input: Object.freeze({ ...(request.input as object) }),
    risk: Object.freeze({ ...request.risk }),
  });
}

/** Settles `decide` and reports how: a decision, or a rejection. */
async function outcome(
  pending: Promise<ApprovalDecision>,
): Promise<{ decision?: ApprovalDecision; rejected?: unknown }> {
  try {
    return { decision: await pending };
  } catch (rejected) {
    return { rejected: rejected ?? "rejected" };
  }
}

/** A thenable that is not a Promise: what a gate must await properly, then judge by what it settles with. */
export function thenable(
  settle: (resolve: (value: unknown) => void) => void,
  extra: object = {},
): PromiseLike<unknown> {
  // biome-ignore lint/suspicious/noThenProperty: a non-Promise thenable is exactly what this builds
  return { ...extra, then: (resolve: (value: unknown) => void) => settle(resolve) } as PromiseLike<unknown>;
}

/** Answers that must approve: only `true` and `{ approve: true }` (with an optional reason), however delivered. */
export const APPROVING_ANSWERS: readonly (readonly [string, () => unknown])[] = [
  ["true", () => true],
  ["{ approve: true }", () => ({ approve: true })],
  ['{ approve: true, reason: "ok" }', () => ({ approve: true, reason: "ok" })],
  ["a promise of true", () => Promise.resolve(true)],
  // A thenable is awaited as a promise would be; what it settles with is then judged like any answer.
  ["a thenable resolving to true", () => thenable((resolve) => resolve(true))],
];

/** Answers that must deny: everything else, including the truthy and the almost-right. */
export const DENYING_ANSWERS: readonly (readonly [string, () => unknown, string | undefined])[] = [
  ['"no"', () => "no", '"no"'],
  ['"yes"', () => "yes", '"yes"'],
  ['"true"', () => "true", '"true"'],
  ["1", () => 1, "1"],
  ["0", () => 0, "0"],
  ["{}", () => ({}), "{}"],
  ['{ approve: "true" }', () => ({ approve: "true" }), '{"approve":"true"}'],
  ["{ approve: 1 }", () => ({ approve: 1 }), '{"approve":1}'],
  [
    "{ approve: true, scope: 'forever' } (a field it does not know)",
    () => ({ approve: true, scope: "forever" }),
    "scope",
  ],
  ["{ Approve: true }", () => ({ Approve: true }), "Approve"],
  ["[true]", () => [true], "[true]"],
  ["null", () => null, "null"],
  ["undefined", () => undefined, "undefined"],
  ["false", () => false, undefined],
  ["{ approve: false }", () => ({ approve: false }), undefined],
  ["a function returning true", () => () => true, "function"],
  ['a promise of "yes"', () => Promise.resolve("yes"), '"yes"'],
  [
    'a thenable resolving to { approve: "true" }',
    () => thenable((resolve) => resolve({ approve: "true" })),
    '{"approve":"true"}',
  ],
  [
    "an object whose approve getter throws",
    () => ({
      get approve(): boolean {
        throw new Error("boom");
      },
    }),
    undefined,
  ],
  [
    "a proxy that throws on every read",
    () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error("trap");
          },
        },
      ),
    undefined,
  ],
];

/** The ApprovalGate contract as named checks (see `ContractCheck`). */
export function approvalGateChecks(options: ApprovalGateContractOptions): ContractCheck[] {
  const withGate = async (gate: ApprovalGate, body: (gate: ApprovalGate) => Promise<void>) => {
    try {
      await body(gate);
    } finally {
      await options.dispose?.(gate);
    }
  };
  const check = (
    name: string,
    behaviour: GateBehaviour,
    body: (gate: ApprovalGate) => Promise<void>,
  ): ContractCheck => ({
    name,
    async run() {
      await withGate(await options.create(behaviour), body);
    },
  });

  const checks: ContractCheck[] = [
    check("has a non-empty name", "approve", async (gate) => {
      expect(typeof gate.name === "string" && gate.name.length > 0).toBe(true);
    }),

    check("an approval is the well-formed approved shape", "approve", async (gate) => {
      const decision = await gate.decide(contractApprovalRequest(), new AbortController().signal);
      expectWellFormed(decision);
      expect(decision.outcome).toBe("approved");
    }),

    check("a refusal is the well-formed denied shape, with a reason", "deny", async (gate) => {
      const decision = await gate.decide(contractApprovalRequest(), new AbortController().signal);
      expectWellFormed(decision);
      expect(decision.outcome).toBe("denied");
    }),

    check("an abort ends the wait: decide settles, and never with an approval", "wait", async (gate) => {
      const controller = new AbortController();
      const pending = gate.decide(contractApprovalRequest(), controller.signal);
      controller.abort({ kind: "timeout", scope: "tool", limitMs: 1 });
      const result = await outcome(pending);
      if (result.decision) {
        expectWellFormed(result.decision);
        expect(result.decision.outcome).not.toBe("approved");
      }
    }),

    check(
      "an already-aborted signal gets no approval, even from an approving decider",
      "approve",
      async (gate) => {
        const controller = new AbortController();
        controller.abort({ kind: "cancelled", reason: "the run was stopped" });
        const result = await outcome(gate.decide(contractApprovalRequest(), controller.signal));
        if (result.decision) {
          expectWellFormed(result.decision);
          expect(result.decision.outcome).not.toBe("approved");
        }
      },
    ),

    check("does not change the request it decides on", "approve", async (gate) => {
      const request = contractApprovalRequest();
      const before = structuredClone(request);
      await gate.decide(request, new AbortController().signal);
      expect(request).toEqual(before);
    }),
  ];

  const relaying = options.relaying;
  if (relaying) {
    checks.push(
      {
        name: "a relayed answer approves only when it is exactly true or { approve: true }",
        async run() {
          for (const [label, answer] of APPROVING_ANSWERS) {
            await withGate(await relaying(answer()), async (gate) => {
              const decision = await gate.decide(contractApprovalRequest(), new AbortController().signal);
              expectWellFormed(decision);
              expect(decision.outcome, label).toBe("approved");
            });
          }
        },
      },
      {
        name: "any other relayed answer denies, with a reason that says what was received",
        async run() {
          for (const [label, answer, shown] of DENYING_ANSWERS) {
            await withGate(await relaying(answer()), async (gate) => {
              const result = await outcome(
                gate.decide(contractApprovalRequest(), new AbortController().signal),
              );
              if (!result.decision) return; // rejecting is also a refusal: the pipeline denies it
              expectWellFormed(result.decision);
              expect(result.decision.outcome, label).toBe("denied");
              if (shown !== undefined && result.decision.outcome === "denied") {
                expect(result.decision.reason, `${label}: the reason shows the answer`).toContain(shown);
              }
            });
          }
        },
      },
      {
        name: "a relayed answer that never settles is ended by the signal, without approval",
        async run() {
          const never = thenable(() => {});
          await withGate(await relaying(never), async (gate) => {
            const controller = new AbortController();
            const pending = gate.decide(contractApprovalRequest(), controller.signal);
            controller.abort({ kind: "cancelled", reason: "stop" });
            const result = await outcome(pending);
            if (result.decision) expect(result.decision.outcome).not.toBe("approved");
          });
        },
      },
    );
  }
  return checks;
}
