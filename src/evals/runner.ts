/**
 * The eval runner: every (case, run) in a fresh workspace with the case's fixture copied in, a fresh
 * sandbox where one is configured, runs in parallel under a concurrency limit, one shared ledger
 * budget for the whole eval (a run refused by it stops; no new run starts), each finished run written
 * to the run directory at once (so `resume` skips it next time) with its transcript.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import type { Ledger } from "../guards/ledger.js";
import { MemoryLedger } from "../guards/memory-ledger.js";
import { createHarness, type HarnessConfig } from "../harness.js";
import type { Model } from "../models/model.js";
import { resolveModel } from "../models/resolve-model.js";
import { PolicyEngine } from "../policy/policy-engine.js";
import { loadPolicyFile } from "../policy/policy-file.js";
import { EvaluationError, errorMessage, ReinError } from "../protocol/errors.js";
import type { EventSink, ReinEvent } from "../protocol/events.js";
import type { StopReason } from "../protocol/stop-reason.js";
import { createSandbox } from "../sandbox/create-sandbox.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import { callsOf, runChecks } from "./checks.js";
import { judgeRun } from "./judge.js";
import type { LoadedSuite } from "./load-suite.js";
import { type RunRecord, runRecordSchema } from "./run-record.js";
import type { CaseSpec, HarnessSpec, ModelFactory, RunIdentity } from "./suite-schema.js";

/** Stop-reason error codes that mean the infrastructure failed, not the agent. */
const INFRASTRUCTURE_CODES = new Set([
  "REIN_MODEL_CALL_FAILED",
  "REIN_MODEL_RESPONSE_INVALID",
  "REIN_MODEL_KEY_MISSING",
  "REIN_MODEL_CIRCUIT_OPEN",
  "REIN_PRICE_UNKNOWN",
  "REIN_SANDBOX_FAILED",
  "REIN_LEDGER_FAILED",
  "REIN_LEDGER_REJECTED",
  "REIN_EVENT_LOG_REJECTED",
  "REIN_AUDIT_WRITE_FAILED",
  "REIN_AUDIT_LOCKED",
  "REIN_INTERNAL",
]);

/** The shared budget every run of one eval draws from. */
export const EVAL_BUDGET = "eval";

export interface EvalProgress {
  readonly total: number;
  readonly done: number;
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  readonly skipped: number;
}

export interface RunEvalOptions {
  /** Runs per case, overriding the suite's and the cases' own. */
  readonly runs?: number;
  /** Runs in flight at once (default 4). */
  readonly concurrency?: number;
  /** The run directory: results and transcripts. Default `.rein/evals/<suite name>`. */
  readonly outDir?: string;
  /** Keep the finished runs found in `outDir` and run only the rest. */
  readonly resume?: boolean;
  /** The agent's model for every case, overriding the suite (a model string or object). */
  readonly model?: string | Model;
  /** A USD ceiling for the whole eval (overrides the suite's `budget.maxCostUsd`). */
  readonly maxCostUsd?: number;
  /** Called after each finished run. */
  readonly onProgress?: (progress: EvalProgress) => void;
  /** Keep each run's workspace instead of deleting it (their paths are not recorded). */
  readonly keepWorkspaces?: boolean;
}

/** What an eval produced; `report()` turns it into metrics. */
export interface EvalResult {
  readonly suite: LoadedSuite;
  readonly outDir: string;
  readonly records: readonly RunRecord[];
  /** Planned runs that never started (the eval's budget stopped it), by case. */
  readonly notRun: readonly { readonly caseId: string; readonly runIndex: number }[];
  /** Runs reused from an earlier invocation (`resume`). */
  readonly resumed: number;
  /** Why the eval stopped early, if it did. */
  readonly stopped: {
    readonly reason: "budget";
    readonly limitUsd: number;
    readonly spentUsd: number;
  } | null;
  /** Settled spend of this invocation's runs (the shared ledger's total). */
  readonly costUsd: number;
  readonly startedAt: string;
  readonly durationMs: number;
}

/** A 32-bit seed for one run: FNV-1a of the suite seed, the case and the run index. */
export function runSeed(suiteSeed: number, caseId: string, runIndex: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${suiteSeed}\u0000${caseId}\u0000${runIndex}`) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Runs per case after overrides. */
export function runsOf(suite: LoadedSuite, c: CaseSpec, override?: number): number {
  return override ?? c.runs ?? suite.runs;
}

/** What a run directory was written for: equal plans can share finished runs. */
function planHash(suite: LoadedSuite, runs: number | undefined, model: string | Model | undefined): string {
  const plain = JSON.stringify(
    { suite, runs, model: typeof model === "object" ? model.id : model },
    (_k, v: unknown) =>
      typeof v === "function" ? `fn:${(v as { name?: string }).name ?? ""}:${String(v).length}` : v,
  );
  return createHash("sha256").update(plain).digest("hex");
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function stopName(reason: StopReason): string {
  return reason.type === "error" ? `error:${reason.code}` : reason.type;
}

/**
 * Runs a suite. Never throws for a run that fails or errs (that is a record); throws `EvaluationError`
 * for a run directory that does not match (`REIN_EVAL_RESUME_MISMATCH`).
 *
 * @example
 * const result = await runEval(await loadSuite("suite.yaml"), { runs: 5, concurrency: 4 });
 * console.log(formatTable(report(result)));
 */
export async function runEval(suite: LoadedSuite, options: RunEvalOptions = {}): Promise<EvalResult> {
  const started = Date.now();
  const outDir = resolve(options.outDir ?? join(".rein", "evals", suite.name));
  const manifestFile = join(outDir, "manifest.json");
  const hash = planHash(suite, options.runs, options.model);
  const done = new Map<string, RunRecord>();
  if (options.resume) {
    let manifest: { planHash?: unknown } | undefined;
    try {
      manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { planHash?: unknown };
    } catch {}
    if (manifest && manifest.planHash !== hash)
      throw new EvaluationError(
        "REIN_EVAL_RESUME_MISMATCH",
        `${outDir} holds runs of a different plan (the suite, its runs or its model changed); run without --resume to start afresh.`,
        { file: manifestFile },
      );
    for (const c of suite.cases)
      for (let i = 0; i < runsOf(suite, c, options.runs); i++) {
        try {
          const r = runRecordSchema.safeParse(
            JSON.parse(readFileSync(join(outDir, "runs", c.id, `${i}.json`), "utf8")),
          );
          if (r.success) done.set(`${c.id}\u0000${i}`, r.data);
        } catch {}
      }
  } else {
    rmSync(join(outDir, "runs"), { recursive: true, force: true });
    rmSync(join(outDir, "transcripts"), { recursive: true, force: true });
  }
  writeAtomic(
    manifestFile,
    `${JSON.stringify({ suite: suite.name, file: suite.file, planHash: hash }, null, 2)}\n`,
  );

  const plan: { c: CaseSpec; runIndex: number }[] = [];
  for (const c of suite.cases)
    for (let i = 0; i < runsOf(suite, c, options.runs); i++)
      if (!done.has(`${c.id}\u0000${i}`)) plan.push({ c, runIndex: i });

  const limitUsd = options.maxCostUsd ?? suite.budget?.maxCostUsd;
  const ledger = new MemoryLedger();
  const records: RunRecord[] = [...done.values()];
  const progress = {
    total: records.length + plan.length,
    done: records.length,
    passed: 0,
    failed: 0,
    errors: 0,
    skipped: 0,
  };
  for (const r of records) count(progress, r);
  let budgetHit = false;
  let next = 0;
  const worker = async () => {
    while (!budgetHit && next < plan.length) {
      const item = plan[next++]!;
      const record = await runOne(suite, item.c, item.runIndex, { outDir, ledger, limitUsd, options });
      if (record.error?.kind === "budget") budgetHit = true;
      writeAtomic(
        join(outDir, "runs", item.c.id, `${item.runIndex}.json`),
        `${JSON.stringify(record, null, 2)}\n`,
      );
      records.push(record);
      progress.done++;
      count(progress, record);
      options.onProgress?.({ ...progress });
    }
  };
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 4, plan.length || 1));
  await Promise.all(Array.from({ length: concurrency }, worker));
  const notRun = plan.slice(next).map((p) => ({ caseId: p.c.id, runIndex: p.runIndex }));
  if (notRun.length) {
    progress.skipped = notRun.length;
    options.onProgress?.({ ...progress });
  }
  const costUsd = ledger.totals({ tenantId: "local" }).costUsd;
  const order = new Map(suite.cases.map((c, i) => [c.id, i]));
  records.sort((a, b) => order.get(a.caseId)! - order.get(b.caseId)! || a.runIndex - b.runIndex);
  return {
    suite,
    outDir,
    records,
    notRun,
    resumed: done.size,
    stopped: budgetHit && limitUsd !== undefined ? { reason: "budget", limitUsd, spentUsd: costUsd } : null,
    costUsd,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
  };
}

function count(p: { passed: number; failed: number; errors: number }, r: RunRecord): void {
  if (r.outcome === "passed") p.passed++;
  else if (r.outcome === "failed") p.failed++;
  else p.errors++;
}

function mergedHarness(suite: LoadedSuite, c: CaseSpec): HarnessSpec {
  return {
    ...suite.harness,
    ...Object.fromEntries(Object.entries(c.harness ?? {}).filter(([, v]) => v !== undefined)),
  };
}

/** The model of one run: a string resolves, a factory is called with the run's seeded identity. */
export function modelFor(spec: HarnessSpec["model"] | Model, run: RunIdentity): Model {
  const m = typeof spec === "function" ? (spec as ModelFactory)(run) : spec;
  if (typeof m === "string") return resolveModel(m);
  if (m && typeof m === "object" && typeof (m as Model).generate === "function") return m as Model;
  throw new EvaluationError(
    "REIN_EVAL_SUITE_INVALID",
    `case "${run.caseId}": the model factory returned neither a model string nor a Model`,
    {
      case: run.caseId,
      field: "harness.model",
    },
  );
}

interface RunContext {
  readonly outDir: string;
  readonly ledger: Ledger;
  readonly limitUsd: number | undefined;
  readonly options: RunEvalOptions;
}

async function runOne(
  suite: LoadedSuite,
  c: CaseSpec,
  runIndex: number,
  ctx: RunContext,
): Promise<RunRecord> {
  const started = Date.now();
  const identity: RunIdentity = { caseId: c.id, runIndex, seed: runSeed(suite.seed, c.id, runIndex) };
  const h = mergedHarness(suite, c);
  const transcript = join("transcripts", c.id, `${runIndex}.jsonl`);
  const events: ReinEvent[] = [];
  let modelId = "unknown";
  let workspace: string | undefined;
  let sandbox: Sandbox | undefined;
  const base = { caseId: c.id, runIndex, turns: 0, toolCalls: 0, costUsd: 0 };
  try {
    workspace = mkdtempSync(join(tmpdir(), "rein-eval-"));
    if (c.fixture) cpSync(c.fixture, workspace, { recursive: true, verbatimSymlinks: true });
    for (const [path, text] of Object.entries(c.files ?? {})) {
      const full = resolve(workspace, path);
      if (!full.startsWith(workspace + sep))
        throw new EvaluationError(
          "REIN_EVAL_SUITE_INVALID",
          `case "${c.id}", field "files": ${path} is outside the workspace`,
          { case: c.id, field: "files" },
        );
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
    }
    const model = modelFor(ctx.options.model ?? h.model, identity);
    modelId = model.id;
    if (h.sandbox) sandbox = createSandbox({ backend: h.sandbox, workspace });
    const sink: EventSink = { name: "eval-transcript", handle: (e) => void events.push(e) };
    const config: HarnessConfig = {
      model,
      workspace,
      trust: h.trust ?? "supervised",
      ...(sandbox ? { sandbox } : {}),
      ...(h.system !== undefined ? { system: h.system } : {}),
      ...(h.policy ? { policy: new PolicyEngine({ workspace, layers: [loadPolicyFile(h.policy)] }) } : {}),
      ...(h.price
        ? { pricing: { overrides: { [model.id]: { cacheRead: 0, cacheWrite: 0, ...h.price } } } }
        : {}),
      limits: { maxTurns: c.maxTurns ?? suite.maxTurns, runTimeoutMs: c.timeoutMs ?? suite.timeoutMs },
      ledger: ctx.ledger,
      ...(ctx.limitUsd !== undefined
        ? { guards: { budget: { shared: { name: EVAL_BUDGET, maxCostUsd: ctx.limitUsd } } } }
        : {}),
      audit: false,
      sinks: [sink],
    };
    const harness = createHarness(config);
    const session = harness.session();
    let result: Awaited<ReturnType<typeof session.run>>;
    try {
      result = await session.run(c.task);
    } finally {
      await session.close();
    }
    const measured = { turns: result.turns, toolCalls: result.toolCalls, costUsd: result.costUsd };
    const stop = result.stopReason;
    const stopReason = stopName(stop);
    writeTranscript(ctx.outDir, transcript, events);
    if (stop.type === "cost_ceiling" && stop.budget === `budget:${EVAL_BUDGET}`)
      return record({
        ...base,
        ...measured,
        outcome: "error",
        reasons: ["eval budget exhausted"],
        error: {
          code: "cost_ceiling",
          message: stop.diagnostic ?? "the eval's budget is spent",
          kind: "budget",
        },
        stopReason,
        modelId,
        started,
        transcript,
      });
    if (stop.type === "error" && INFRASTRUCTURE_CODES.has(stop.code))
      return record({
        ...base,
        ...measured,
        outcome: "error",
        reasons: [`infrastructure: ${stop.code}`],
        error: { code: stop.code, message: stop.message, kind: "infrastructure" },
        stopReason,
        modelId,
        started,
        transcript,
      });
    const checks = await runChecks(c.expect, {
      caseId: c.id,
      runIndex,
      workspace,
      events,
      messages: result.messages,
      finalText: result.finalText,
      stopReason: stop.type,
    });
    const reasons = [...checks.reasons];
    let judge: RunRecord["judge"];
    if (suite.judge) {
      const finished = new Map<string, string>();
      for (const e of events)
        if (e.type === "tool_call_finished") finished.set(e.data.callId, e.data.content);
      const ids = events
        .filter((e) => e.type === "tool_call_requested")
        .map((e) => (e.type === "tool_call_requested" ? e.data.callId : ""));
      const calls = callsOf(events).map((call, i) => ({ ...call, result: finished.get(ids[i]!) }));
      judge = await judgeRun(
        modelFor(suite.judge.model, identity),
        { task: c.task, calls, finalAnswer: result.finalText },
        suite.judge,
      );
      if (suite.judge.passAt !== undefined) {
        if (judge.mean === undefined) reasons.push("judge: no verdict");
        else if (judge.mean < suite.judge.passAt) reasons.push(`judge: score below ${suite.judge.passAt}`);
      }
    }
    return record({
      ...base,
      ...measured,
      outcome: reasons.length ? "failed" : "passed",
      reasons,
      stopReason,
      modelId,
      started,
      transcript,
      judge,
    });
  } catch (err) {
    if (events.length) writeTranscript(ctx.outDir, transcript, events);
    const code = err instanceof ReinError ? err.code : "REIN_INTERNAL";
    return record({
      ...base,
      outcome: "error",
      reasons: [`infrastructure: ${code}`],
      error: { code, message: errorMessage(err), kind: "infrastructure" },
      stopReason: "not_finished",
      modelId,
      started,
      ...(events.length ? { transcript } : {}),
    });
  } finally {
    await sandbox?.dispose().catch(() => {});
    if (workspace && !ctx.options.keepWorkspaces) rmSync(workspace, { recursive: true, force: true });
  }
}

function writeTranscript(outDir: string, file: string, events: readonly ReinEvent[]): void {
  writeAtomic(
    join(outDir, file),
    events.map((e) => JSON.stringify(e)).join("\n") + (events.length ? "\n" : ""),
  );
}

function record(
  r: Omit<RunRecord, "passed" | "durationMs" | "model"> & { modelId: string; started: number },
): RunRecord {
  const { modelId, started, ...rest } = r;
  return { ...rest, passed: r.outcome === "passed", model: modelId, durationMs: Date.now() - started };
}

/** The relative transcript path of a record, resolved in a run directory. */
export function transcriptPath(outDir: string, r: RunRecord): string | undefined {
  return r.transcript === undefined ? undefined : join(outDir, r.transcript);
}
