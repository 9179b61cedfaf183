import { randomBytes } from "node:crypto";
import { mkdirSync, realpathSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod/v4";
import type { ApprovalGate, ApprovalRequest } from "./approvals/approval-gate.js";
import { type CallbackAnswer, callbackGate } from "./approvals/callback-gate.js";
import { newInputEstimate } from "./core/input-estimate.js";
import type { Limits } from "./core/run-context.js";
import { Session } from "./core/session.js";
import type { Guard } from "./guards/guard.js";
import { BudgetSchema, CircuitBreakerCodeSchema, StallSchema, TaintSchema } from "./guards/guards-schema.js";
import type { Ceiling, Ledger } from "./guards/ledger.js";
import { MemoryLedger } from "./guards/memory-ledger.js";
import { type GuardsConfig, standardGuards } from "./guards/standard-guards.js";
import { TaintGuard } from "./guards/taint-guard.js";
import type { Model } from "./models/model.js";
import { type Price, PriceBook } from "./models/pricing.js";
import { resolveModel } from "./models/resolve-model.js";
import type { Policy } from "./policy/policy.js";
import { PolicyEngine } from "./policy/policy-engine.js";
import { autonomousGate, semiAutonomousGate, TRUST_MODES } from "./policy/trust-mode.js";
import { ConfigError, SessionError } from "./protocol/errors.js";
import type { EventSink } from "./protocol/events.js";
import type { Hooks } from "./protocol/hooks.js";
import type { Message } from "./protocol/messages.js";
import { RISK_LEVELS, type RiskLevel } from "./protocol/risk.js";
import type { RunResult } from "./protocol/run-result.js";
import { formatIssuePath, formatIssues } from "./protocol/zod-issues.js";
import type { Sandbox } from "./sandbox/sandbox.js";
import { EgressFirewall, type EgressFirewallOptions } from "./security/egress/egress-firewall.js";
import { EventRedactor } from "./security/event-redactor.js";
import { HeuristicInjectionDetector, type InjectionDetector } from "./security/injection-detector.js";
import { injectionScanProcessor } from "./security/injection-scan-processor.js";
import { KnownValues, knownSecretsFromEnv } from "./security/known-values.js";
import { ModelInjectionDetector } from "./security/model-injection-detector.js";
import { redactingModel } from "./security/redacting-model.js";
import { redactionProcessor } from "./security/redaction-processor.js";
import { SecretRedactor } from "./security/redactor.js";
import type { ResultProcessor } from "./security/result-processor.js";
import { redactingGate, secretRegisteringSandbox } from "./security/secret-scoped-wrappers.js";
import { Spotlight } from "./security/spotlight.js";
import type { EventLog } from "./state/event-log.js";
import { MemoryEventLog } from "./state/memory-event-log.js";
import { resumePlan } from "./state/resume-plan.js";
import type { Store } from "./state/store.js";
import { auditKeyFromEnv, auditKeyObject } from "./telemetry/audit-key.js";
import { placeAuditDir } from "./telemetry/audit-location.js";
import { MAX_MAX_RECORD_BYTES, MIN_MAX_RECORD_BYTES } from "./telemetry/audit-record-cap.js";
import { AuditTrail, type AuditTrailOptions } from "./telemetry/audit-trail.js";
import { httpFetchTool } from "./tools/builtin/http-fetch.js";
import { workspaceTools } from "./tools/builtin/index.js";
import { BUILTIN_TOOL_NAMES, type BuiltinToolName } from "./tools/builtin/names.js";
import { ToolRegistry } from "./tools/registry.js";
import type { Tool, ToolCallOf } from "./tools/tool.js";

/** Defaults are safe: limited turns and time, capped outputs (the audit trail is on, in memory, unless configured). */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxTurns: 50,
  warnAtFraction: 2 / 3,
  modelCallTimeoutMs: 120_000,
  toolTimeoutMs: 60_000,
  runTimeoutMs: 30 * 60_000,
  abortGraceMs: 2_000,
  maxToolOutputBytes: 64 * 1024,
});

const isObjectWith =
  (...keys: string[]) =>
  (v: unknown) =>
    typeof v === "object" && v !== null && keys.every((k) => k in v);

const positiveInt = z.int().positive();
const positiveMs = z.number().positive().max(2_147_483_647);

const GuardSchema = z.custom<Guard>(isObjectWith("name"), "expected a Guard");
const GuardsConfigSchema = z.strictObject({
  budget: BudgetSchema.optional(),
  stall: StallSchema.optional(),
  circuitBreaker: CircuitBreakerCodeSchema.optional(),
  taint: TaintSchema.optional(),
  custom: z.array(GuardSchema).optional(),
});

const ConfigSchema = z.strictObject({
  model: z.union([
    z.string().min(1),
    z.custom<Model>(isObjectWith("id", "generate"), "expected a Model object or a model string"),
  ]),
  tools: z
    .array(z.custom<Tool>(isObjectWith("name", "parse", "execute"), "expected a tool made with defineTool"))
    .default([]),
  workspace: z.string().min(1).optional(),
  builtinTools: z.union([z.boolean(), z.array(z.enum(BUILTIN_TOOL_NAMES))]).default(true),
  sandbox: z
    .custom<Sandbox>(isObjectWith("exec", "runCode", "capabilities", "workspace"), "expected a Sandbox")
    .optional(),
  system: z.string().optional(),
  maxTokens: positiveInt.default(4096),
  limits: z
    .strictObject({
      maxTurns: positiveInt,
      warnAtFraction: z.number().gt(0).lte(1),
      modelCallTimeoutMs: positiveMs,
      toolTimeoutMs: positiveMs,
      runTimeoutMs: positiveMs,
      /** @deprecated the limit bounds one run: use `runTimeoutMs`. */
      sessionTimeoutMs: positiveMs,
      abortGraceMs: positiveMs,
      maxToolOutputBytes: positiveInt,
      /** USD ceiling of one run, enforced by reservation (shorthand for guards.budget.run.maxCostUsd). */
      maxCostUsd: z.number().positive(),
      /** Token ceiling of one run (input + output + cache), enforced by reservation. */
      maxTokens: positiveInt,
    })
    .partial()
    .default({}),
  policy: z.custom<Policy>(isObjectWith("name", "classify"), "expected a Policy").optional(),
  /**
   * The egress firewall (or its options): registers `http_fetch`, and the default policy judges URLs
   * in tool inputs with it. Without it there is no network tool. Hosts are default-deny.
   */
  egress: z
    .union([
      z.custom<EgressFirewall>((v) => v instanceof EgressFirewall, "expected an EgressFirewall"),
      z.custom<EgressFirewallOptions>(
        (v) => typeof v === "object" && v !== null,
        "expected egress firewall options",
      ),
    ])
    .optional(),
  /**
   * What runs without a person: supervised (HIGH waits for the gate), semi-autonomous (HIGH waits
   * approvals.timeoutMs, then approvals.onTimeout decides, default deny), autonomous (every non-BLOCK
   * call runs), read-only (only read-only tools are registered).
   */
  trust: z.enum(TRUST_MODES).default("supervised"),
  guards: z.union([z.array(GuardSchema), GuardsConfigSchema]).default([]),
  approvals: z
    .strictObject({
      // A function is the callback of a callbackGate (same strict answers), typed by the tools.
      gate: z.union([
        z.custom<ApprovalGate>(isObjectWith("name", "decide"), "expected an ApprovalGate"),
        z
          .custom<CallbackDecide>((v) => typeof v === "function", "expected an ApprovalGate or a function")
          .transform((fn) => callbackGate(fn)),
      ]),
      requireFor: z.array(z.enum(RISK_LEVELS)).default(["HIGH"]),
      /** semi-autonomous: called when a call starts waiting for a person. */
      notify: z
        .custom<(request: ApprovalRequest) => void>((v) => typeof v === "function", "expected a function")
        .optional(),
      /** semi-autonomous: decides an unanswered approval after timeoutMs (default: deny). */
      onTimeout: z
        .custom<(request: ApprovalRequest) => "deny" | "approve">(
          (v) => typeof v === "function",
          "expected a function",
        )
        .optional(),
      timeoutMs: positiveMs.default(10 * 60_000),
    })
    .optional(),
  resultProcessors: z
    .array(z.custom<ResultProcessor>(isObjectWith("name", "process"), "expected a ResultProcessor"))
    .default([]),
  hooks: z
    .custom<Hooks>((v) => typeof v === "object" && v !== null, "expected an object of hook functions")
    .default({}),
  pricing: z
    .strictObject({
      overrides: z
        .record(
          z.string(),
          z.custom<Price>((v) => typeof v === "object" && v !== null),
        )
        .optional(),
      onUnknown: z.enum(["error", "zero"]).optional(),
    })
    .default({}),
  /**
   * Where the audit trail goes: "memory" (the default: the same hash chain, kept with the session and
   * written nowhere; `harness.auditTrail(id).text()`), a directory (`{ dir }`, one JSONL file per
   * session), or false (none, only when chosen).
   */
  audit: z
    .union([
      z.literal(false),
      z.literal("memory"),
      z.strictObject({
        dir: z.string().min(1),
        key: z
          .union([
            z.string(),
            z.custom<Uint8Array>((v) => v instanceof Uint8Array, "expected a string or a Uint8Array"),
          ])
          .optional(),
        maxRecordBytes: z.int().min(MIN_MAX_RECORD_BYTES).max(MAX_MAX_RECORD_BYTES).optional(),
      }),
    ])
    .default("memory"),
  tenantId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "use 1-64 letters, digits, '.', '_' or '-'")
    .default("local"),
  eventLog: z.custom<EventLog>(isObjectWith("append", "read"), "expected an EventLog").optional(),
  /** A durable store (SqliteStore): its event log and ledger are the harness's, and resume reads it. */
  store: z
    .custom<Store>(isObjectWith("eventLog", "ledger", "approvals", "sessions"), "expected a Store")
    .optional(),
  ledger: z.custom<Ledger>(isObjectWith("reserve", "settle"), "expected a Ledger").optional(),
  sinks: z.array(z.custom<EventSink>(isObjectWith("name", "handle"), "expected an EventSink")).default([]),
  security: z
    .strictObject({
      /** Redact secrets from tool results, every event (log, sinks, stream), approval prompts and streamed text. */
      redact: z.boolean().default(true),
      /** Exact values to redact, by label: `{ DB_PASSWORD: "…" }`. */
      knownSecrets: z.record(z.string(), z.string()).default({}),
      /** Also redact the credentials found in this process's environment (`*_API_KEY`, `*_TOKEN`, …). */
      secretsFromEnv: z.boolean().default(true),
      /** Wrap every tool result in nonce-marked delimiters and state the rule in the system prompt. */
      spotlight: z.boolean().default(true),
      /** Scan tool results for prompt injections and flag them (`content_flagged`). */
      detect: z
        .union([
          z.boolean(),
          z.strictObject({
            heuristic: z.boolean().default(true),
            threshold: z.number().gt(0).lte(1).optional(),
            model: z.custom<Model>(isObjectWith("id", "generate"), "expected a Model object").optional(),
          }),
        ])
        .default(true),
      regexEngine: z.enum(["auto", "re2", "re2js"]).default("auto"),
      maxInputChars: positiveInt.optional(),
    })
    .default({
      redact: true,
      knownSecrets: {},
      secretsFromEnv: true,
      spotlight: true,
      detect: true,
      regexEngine: "auto",
    }),
});

type ConfigInput = z.input<typeof ConfigSchema>;
type CallbackDecide = Parameters<typeof callbackGate>[0];

/**
 * A call of a built-in workspace tool, as approvals and hooks see it (its input is the tool's
 * validated input; see docs for each tool's fields).
 */
export interface BuiltinToolCall {
  readonly tool: BuiltinToolName;
  readonly input: Readonly<Record<string, unknown>>;
}

/**
 * Every call a harness with these tools can route: your tools' (typed by their schemas) and the
 * built-ins'. A union discriminated by `tool`.
 */
export type HarnessToolCall<T extends readonly Tool[] = readonly Tool[]> =
  | ToolCallOf<T[number]>
  | BuiltinToolCall;

/**
 * Options of `createHarness`. Every field but `model` has a safe default. `T` is the tuple of your
 * tools: approvals and hooks get each call's input typed by its tool's schema.
 */
export type HarnessConfig<T extends readonly Tool[] = readonly Tool[]> = Omit<
  ConfigInput,
  "tools" | "approvals" | "hooks"
> & {
  /** Your tools, made with `defineTool`; registered beside the built-in workspace tools. */
  tools?: T;
  approvals?: Omit<NonNullable<ConfigInput["approvals"]>, "gate" | "notify" | "onTimeout"> & {
    // NoInfer: T comes from `tools` alone, and is fixed before a gate's callback is typed.
    /**
     * Who decides: an `ApprovalGate` (`terminalGate()`, `callbackGate(fn)`, …) or a function, which is
     * the callback of a `callbackGate` (only `true` or `{ approve: true }` approves). The function's
     * request is typed by your tools: `req.tool === "transfer"` narrows `req.input`.
     */
    gate:
      | ApprovalGate<HarnessToolCall<NoInfer<T>>>
      | ((
          request: ApprovalRequest<HarnessToolCall<NoInfer<T>>>,
          signal: AbortSignal,
        ) => CallbackAnswer | PromiseLike<CallbackAnswer>);
    /** semi-autonomous: called when a call starts waiting for a person. */
    notify?: (request: ApprovalRequest<HarnessToolCall<NoInfer<T>>>) => void;
    /** semi-autonomous: decides an unanswered approval after timeoutMs (default: deny). */
    onTimeout?: (request: ApprovalRequest<HarnessToolCall<NoInfer<T>>>) => "deny" | "approve";
  };
  /** Hooks at fixed points of the pipeline; `beforeToolCall` and `afterToolCall` see typed calls. */
  hooks?: Hooks<HarnessToolCall<NoInfer<T>>>;
};

export interface SessionOptions {
  /** Defaults to a new random id. */
  readonly id?: string;
  /** Prior conversation to continue. The session appends to this array in place. */
  readonly history?: Message[];
  /** Extra sinks for this session only (e.g. a live renderer). */
  readonly sinks?: readonly EventSink[];
}

/** A configured harness: make sessions from it. */
export interface Harness {
  readonly model: Model;
  readonly tools: readonly string[];
  readonly limits: Limits;
  readonly eventLog: EventLog;
  readonly ledger: Ledger;
  /** The guards every session runs, in order (built-in ones from `guards`, then custom ones). */
  readonly guards: readonly Guard[];
  /** The budget's ceilings, as enforced at every reservation (empty without a budget). */
  readonly ceilings: readonly Ceiling[];
  readonly pricing: PriceBook;
  session(options?: SessionOptions): Session;
  /**
   * Continues a session's last run from the event log, after the process died at any point or after
   * a `requires_action` stop (see `Session.resume`). Throws `REIN_SESSION_NOT_FOUND` or
   * `REIN_SESSION_NOT_RESUMABLE`. Close the returned session when done.
   *
   * @example
   * const { session, result } = await harness.resume("ses_…");
   * await session.close();
   */
  resume(
    sessionId: string,
    options?: { readonly sinks?: readonly EventSink[]; readonly signal?: AbortSignal },
  ): Promise<{ session: Session; result: RunResult }>;
  /** The audit trail file of a session, or undefined when the trail is in memory or off. */
  auditFile(sessionId: string): string | undefined;
  /**
   * The audit trail of a session this harness made (its `headHash`, `records`; `text()` for an
   * in-memory trail), while the session object is alive; undefined when auditing is off.
   */
  auditTrail(sessionId: string): AuditTrail | undefined;
}

/** The approval slot a trust mode gives (see policy/trust-mode.ts). BLOCK never reaches a gate. */
function approvalSlot(trust: (typeof TRUST_MODES)[number], a: z.output<typeof ConfigSchema>["approvals"]) {
  const requireFor = new Set<RiskLevel>((a?.requireFor ?? ["HIGH"]).filter((l) => l !== "BLOCK"));
  const timeoutMs = a?.timeoutMs ?? 10 * 60_000;
  if (trust === "autonomous") return { gate: autonomousGate, requireFor, timeoutMs };
  if (!a) return undefined;
  if (trust === "semi-autonomous") {
    // The slot's own timeout stays above the gate's, so the timeout rule decides first.
    const gate = semiAutonomousGate(a.gate, { timeoutMs, notify: a.notify, onTimeout: a.onTimeout });
    return { gate, requireFor, timeoutMs: timeoutMs + 5_000 };
  }
  return { gate: a.gate, requireFor, timeoutMs };
}

function configError(error: z.ZodError): ConfigError {
  const lines = formatIssues(error.issues, { under: "config" });
  return new ConfigError(`createHarness: invalid configuration:\n  ${lines.join("\n  ")}`, {
    fields: error.issues.map((i) => formatIssuePath(i.path, "")),
  });
}

/**
 * Builds a harness: the model, tools, policy, limits and sinks every session of it shares.
 *
 * @example
 * const harness = createHarness({ model: "scripted:demo", workspace: "./project" });
 * const result = await harness.session().run("clean up old temp files");
 * console.log(result.stopReason, result.costUsd);
 */
export function createHarness<const T extends readonly Tool[] = readonly Tool[]>(
  config: HarnessConfig<T>,
): Harness {
  const parsed = ConfigSchema.safeParse(config);
  if (!parsed.success) throw configError(parsed.error);
  const c = parsed.data;

  const model = typeof c.model === "string" ? resolveModel(c.model) : c.model;
  const pricing = new PriceBook(c.pricing);
  // An unknown price is an error now, not a surprise at the first call (or at a fallback).
  for (const id of model.members ?? [model.id]) pricing.priceOf(id);

  const { sessionTimeoutMs, maxCostUsd, maxTokens, ...given } = c.limits;
  if (sessionTimeoutMs !== undefined && given.runTimeoutMs !== undefined) {
    throw new ConfigError(
      "config.limits: give runTimeoutMs only (sessionTimeoutMs is its deprecated name, and both were given).",
      { field: "limits.sessionTimeoutMs" },
    );
  }
  const limits: Limits = Object.freeze({
    ...DEFAULT_LIMITS,
    ...(sessionTimeoutMs !== undefined ? { runTimeoutMs: sessionTimeoutMs } : {}),
    ...given,
  });
  const sec = c.security;
  // One registry of exact secrets for the harness: provider keys, configured values, sandbox env.
  const known = new KnownValues();
  if (sec.redact) {
    if (sec.secretsFromEnv) for (const k of knownSecretsFromEnv(process.env)) known.add(k.label, k.value);
    for (const [label, value] of Object.entries(sec.knownSecrets)) known.add(label, value);
    // Fails now (REIN_REGEX_ENGINE_UNAVAILABLE), not at the first result, if no linear engine loads.
    new SecretRedactor({ engine: sec.regexEngine, known });
  }
  const sandbox = c.sandbox && sec.redact ? secretRegisteringSandbox(c.sandbox, known) : c.sandbox;
  const detectOptions =
    sec.detect === true ? { heuristic: true } : sec.detect === false ? undefined : sec.detect;
  const detectors: InjectionDetector[] = [];
  if (detectOptions?.heuristic)
    detectors.push(new HeuristicInjectionDetector({ threshold: detectOptions.threshold }));
  if (detectOptions?.model)
    detectors.push(new ModelInjectionDetector(detectOptions.model, { threshold: detectOptions.threshold }));
  const registry = new ToolRegistry();
  const workspace = c.workspace === undefined ? null : resolve(c.workspace);
  if (workspace !== null && c.builtinTools !== false) {
    const wanted = new Set<BuiltinToolName>(c.builtinTools === true ? BUILTIN_TOOL_NAMES : c.builtinTools);
    const needsSandbox = (["run_shell", "run_code"] as const).find((t) => wanted.has(t));
    if (needsSandbox && !sandbox && c.builtinTools !== true) {
      throw new ConfigError(
        `builtinTools lists "${needsSandbox}" but no sandbox is configured: pass config.sandbox (e.g. createSandbox()).`,
        {
          field: "builtinTools",
        },
      );
    }
    for (const tool of workspaceTools({
      workspace,
      sandbox,
      shellMaxTimeoutMs: limits.toolTimeoutMs,
    }))
      if (wanted.has(tool.name as BuiltinToolName) && (c.trust !== "read-only" || tool.readOnly))
        registry.register(tool);
  } else if (c.builtinTools !== true && c.builtinTools !== false && workspace === null) {
    throw new ConfigError(
      "builtinTools needs config.workspace: the built-in tools work inside a workspace.",
      { field: "workspace" },
    );
  }
  const egress =
    c.egress === undefined
      ? undefined
      : c.egress instanceof EgressFirewall
        ? c.egress
        : new EgressFirewall(c.egress);
  if (egress) registry.register(httpFetchTool({ firewall: egress, timeoutMs: limits.toolTimeoutMs }));
  // read-only trust: tools that write or execute are not registered at all.
  for (const tool of c.tools) if (c.trust !== "read-only" || tool.readOnly) registry.register(tool);

  if (c.store && (c.eventLog || c.ledger))
    throw new ConfigError("config: give store, or eventLog/ledger, not both (a store brings its own).", {
      field: "store",
    });
  const eventLog = c.store?.eventLog ?? c.eventLog ?? new MemoryEventLog();
  const ledger = c.store?.ledger ?? c.ledger ?? new MemoryLedger();
  const guardsConfig: GuardsConfig = Array.isArray(c.guards)
    ? { custom: c.guards }
    : (c.guards as GuardsConfig);
  const built = standardGuards(ledger, guardsConfig, {
    ...(maxCostUsd !== undefined ? { maxCostUsd } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
  });
  // A detected injection taints the context (writes need approval until the next human turn) even
  // when no taint guard was configured: detection that only logs would change nothing.
  if (detectors.length > 0 && !built.guards.some((g) => g instanceof TaintGuard))
    built.guards.push(new TaintGuard({ sources: [] }));
  const guards = Object.freeze(built.guards);
  const policy = c.policy ?? new PolicyEngine({ workspace, ...(egress ? { egress } : {}) });
  // Compared after resolving symlinks: a workspace, audit dir or `.rein` reached through a link is judged where it really is.
  const auditDir =
    c.audit === false || c.audit === "memory" ? undefined : placeAuditDir(c.audit.dir, c.workspace ?? null);
  const auditOptions: AuditTrailOptions | undefined =
    c.audit === false
      ? undefined
      : c.audit === "memory"
        ? { key: auditKeyFromEnv() }
        : {
            key:
              c.audit.key === undefined ? auditKeyFromEnv() : auditKeyObject(c.audit.key, "config.audit.key"),
            maxRecordBytes: c.audit.maxRecordBytes,
          };
  const approvals = approvalSlot(c.trust, c.approvals);
  // Stateless (the detectors are the harness's): one for every session.
  const injectionScan = detectors.length > 0 ? injectionScanProcessor(detectors) : undefined;
  // Weak, so a session dropped without close() does not pin memory; the registry prunes its entry.
  const liveSessions = new Map<string, WeakRef<Session>>();
  const forgetWhenCollected = new FinalizationRegistry<string>((id) => {
    if (liveSessions.get(id)?.deref() === undefined) liveSessions.delete(id);
  });
  const resumingIds = new Set<string>();
  const auditFile = (sessionId: string) => (auditDir ? resolve(auditDir, `${sessionId}.jsonl`) : undefined);
  // Held weakly: a trail lives as long as its session (memory is released with it).
  const trails = new Map<string, WeakRef<AuditTrail>>();
  const forgetTrail = new FinalizationRegistry<string>((id) => {
    if (trails.get(id)?.deref() === undefined) trails.delete(id);
  });

  // The audit folder, made and resolved once: a session with a generated id then costs no file I/O
  // until its first run, which opens its (new) file off the event loop.
  let auditRealDir: string | undefined;
  const freshAudit = (): { realDir: string } | undefined => {
    if (auditDir === undefined) return undefined;
    try {
      if (auditRealDir === undefined) {
        mkdirSync(auditDir, { recursive: true, mode: 0o700 });
        auditRealDir = realpathSync(auditDir);
      }
      return { realDir: auditRealDir };
    } catch {
      return undefined; // the trail's own constructor reports it
    }
  };

  /** A resumed session's trail: its own file, or (left unsealed by a crash, so not continued) a new one. */
  const openAudit = (
    sessionId: string,
    file: string,
    resuming: boolean,
    options: AuditTrailOptions,
  ): AuditTrail => {
    try {
      return new AuditTrail(file, options);
    } catch (err) {
      // A crash left the trail unsealed: a resumed session writes a new file beside it.
      if (!resuming || (err as { code?: unknown }).code !== "REIN_AUDIT_INVALID") throw err;
      return new AuditTrail(resolve(auditDir!, `${sessionId}.resumed-${Date.now()}.jsonl`), options);
    }
  };

  // An intent record, durable before the tool runs, for every tool that can change something (one
  // options object for every session's trail).
  const trailOptions = auditOptions && {
    ...auditOptions,
    intentFor: (tool: string) => registry.get(tool)?.readOnly !== true,
  };

  const harness: Harness = {
    model,
    tools: registry.names(),
    limits,
    eventLog,
    ledger,
    guards,
    ceilings: built.budget?.ceilings ?? [],
    pricing,
    auditFile,
    auditTrail: (sessionId: string) => trails.get(sessionId)?.deref(),
    session(options: SessionOptions = {}): Session {
      const sessionId = options.id ?? newId("ses");
      // A generated id is valid by construction.
      if (options.id !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(sessionId)) {
        throw new ConfigError(
          `session id ${JSON.stringify(sessionId)} is invalid: use letters, digits, '.', '_' or '-'.`,
          {
            field: "id",
          },
        );
      }
      if (options.history !== undefined && !Array.isArray(options.history)) {
        throw new ConfigError("session history must be an array of messages.", { field: "history" });
      }
      // Single writer: one live Session per id in this harness (the audit trail's lock covers other processes).
      const live = liveSessions.get(sessionId)?.deref();
      if (live && !live.closed) {
        throw new SessionError(
          "REIN_SESSION_DUPLICATE",
          `Session ${sessionId} is already open in this harness; use that Session object, or close() it first.`,
          { sessionId },
        );
      }
      // A nonce per session (security is per session: see below).
      const spotlight = sec.spotlight ? new Spotlight(spotlightNonce()) : undefined;
      // The trail records each result without the spotlight's markers and nonce (docs/audit.md).
      const sessionTrail =
        trailOptions && spotlight
          ? { ...trailOptions, resultText: (text: string) => spotlight.unwrap(text) }
          : trailOptions;
      const file = auditFile(sessionId);
      // A generated id names a file that cannot exist yet: nothing to check before the first run.
      const fresh = file && options.id === undefined ? freshAudit() : undefined;
      const trail = file
        ? fresh
          ? new AuditTrail(file, { ...sessionTrail, fresh })
          : openAudit(sessionId, file, resumingIds.has(sessionId), sessionTrail ?? {})
        : sessionTrail
          ? AuditTrail.inMemory(sessionTrail)
          : undefined;
      // The trail first, in an array of the exact size (an unshift leaves room for 17 the session keeps).
      const sinks: EventSink[] = trail
        ? [trail, ...c.sinks, ...(options.sinks ?? [])]
        : [...c.sinks, ...(options.sinks ?? [])];
      if (trail) {
        trails.set(sessionId, new WeakRef(trail));
        forgetTrail.register(trail, sessionId);
      }
      // Security is per session: placeholders numbered per session, a nonce per session.
      const redactor = sec.redact
        ? new SecretRedactor({ engine: sec.regexEngine, known, maxInputChars: sec.maxInputChars })
        : undefined;
      const processors: ResultProcessor[] = [];
      if (redactor) processors.push(redactionProcessor(redactor));
      if (injectionScan) processors.push(injectionScan);
      processors.push(...c.resultProcessors);
      // The wrapped result is the redacted content plus Rein's markers, so it is vouched clean (its
      // event is not scanned again): only when nothing else may rewrite the content before it is wrapped.
      const vouch = redactor && c.resultProcessors.length === 0 ? redactor : undefined;
      if (spotlight) processors.push(spotlight.processor(vouch && ((wrapped) => vouch.vouch(wrapped))));
      const session = new Session({
        onClose: () => {
          if (liveSessions.get(sessionId)?.deref() === session) liveSessions.delete(sessionId);
          // Forgotten now: no cleanup callback to run when it is collected.
          forgetWhenCollected.unregister(session);
        },
        tenantId: c.tenantId,
        sessionId,
        model: redactor ? redactingModel(model, redactor) : model,
        tools: registry,
        policy,
        guards,
        approvals:
          approvals && redactor ? { ...approvals, gate: redactingGate(approvals.gate, redactor) } : approvals,
        // An exact copy: the session keeps it for its life (built by push: room for 17).
        resultProcessors: processors.slice(),
        hooks: c.hooks,
        ledger: built.ledger,
        pricing,
        eventLog,
        sinks,
        ...(redactor ? { eventFilter: new EventRedactor(redactor) } : {}),
        limits,
        // With spotlighting the system prompt carries the session's nonce (~1 KB: its markers are
        // two-byte characters): built once per run, not kept for the session's whole life.
        system: spotlight
          ? () => {
              // No array and join per model call: the prompt as is without a system text of the harness's.
              const prompt = spotlight.systemPrompt();
              if (!c.system) return prompt;
              return prompt ? `${c.system}\n\n${prompt}` : c.system;
            }
          : c.system,
        maxTokens: c.maxTokens,
        workspace,
        audit: file ? { kind: "file", file } : trail ? { kind: "memory" } : { kind: "none" },
        history: options.history ?? [],
        newId,
        sessionApprovals: approvals ? new Set() : NO_SESSION_APPROVALS,
        inputEstimate: newInputEstimate(),
      });
      liveSessions.set(sessionId, new WeakRef(session));
      forgetWhenCollected.register(session, sessionId, session);
      return session;
    },
    async resume(sessionId, options = {}) {
      const scope = { tenantId: c.tenantId, sessionId };
      const events = eventLog.read(scope, 0);
      if (events.length === 0) {
        throw new SessionError(
          "REIN_SESSION_NOT_FOUND",
          `No session ${JSON.stringify(sessionId)} in this harness's event log (tenant ${c.tenantId}).`,
          { sessionId },
        );
      }
      const plan = resumePlan(events);
      const openReservations = ledger.openReservations?.(scope) ?? [];
      const live = liveSessions.get(sessionId)?.deref();
      let session: Session;
      if (live && !live.closed) session = live;
      else {
        resumingIds.add(sessionId);
        try {
          session = harness.session({ id: sessionId, ...(options.sinks ? { sinks: options.sinks } : {}) });
        } finally {
          resumingIds.delete(sessionId);
        }
      }
      const result = await session.resume(
        { ...plan, openReservations },
        options.signal ? { signal: options.signal } : {},
      );
      return { session, result };
    },
  };
  return harness;
}

/** Random bytes for ids, drawn from the CSPRNG 4 KiB at a time (one call per 256 ids). */
let idPool: Buffer | undefined;
let idAt = 0;

/**
 * A new session or run id: `<prefix>_` and a random (version 4) UUID's 32 hex digits, made from the
 * pool without the UUID's dashes (no string to strip them from).
 */
function newId(prefix: string): string {
  if (idPool === undefined || idAt + 16 > idPool.length) {
    idPool = randomBytes(4096);
    idAt = 0;
  }
  const pool = idPool;
  pool[idAt + 6] = (pool[idAt + 6]! & 0x0f) | 0x40;
  pool[idAt + 8] = (pool[idAt + 8]! & 0x3f) | 0x80;
  const id = `${prefix}_${pool.toString("hex", idAt, idAt + 16)}`;
  idAt += 16;
  return id;
}

/** Random bytes for spotlight nonces, drawn from the CSPRNG 4 KiB at a time (one call per 341 sessions, not one each). */
let noncePool: Buffer | undefined;
let nonceAt = 0;

/** A session's spotlight nonce: 12 random bytes as hex, never reused. */
function spotlightNonce(): string {
  if (noncePool === undefined || nonceAt + 12 > noncePool.length) {
    noncePool = randomBytes(4092);
    nonceAt = 0;
  }
  const nonce = noncePool.toString("hex", nonceAt, nonceAt + 12);
  // Used once: zeroed, so no later reader of the pool sees a live nonce (12 stores, not a call into C++).
  for (let i = nonceAt; i < nonceAt + 12; i++) noncePool[i] = 0;
  nonceAt += 12;
  return nonce;
}

/**
 * The session approvals of every session of a harness without an approval gate: without a gate no
 * call is approved for the session, so there is nothing to hold (an empty Set per session costs
 * 152 bytes for its life). Shared, so adding to it would be a bug: it throws.
 */
class NoSessionApprovals extends Set<string> {
  override add(): this {
    throw new Error("Rein bug: a session approval recorded in a harness without an approval gate.");
  }
}
const NO_SESSION_APPROVALS: Set<string> = new NoSessionApprovals();
