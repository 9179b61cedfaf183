/**
 * The kill test's scenario, for any store the kill child can open: SESSIONS sessions run in a child
 * process that is SIGKILLed at seeded random points (0-12 ms after it is ready), approvals are decided
 * by the parent between kills, then the child runs to the end without kills. Returns what it counted;
 * `expectNothingLost` asserts the guarantees.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import type { ReinEvent } from "../../src/protocol/events.js";
import type { Store } from "../../src/state/store.js";

const CHILD = join(import.meta.dirname, "kill-child.mjs");
const SESSIONS = 40;

export interface KillFigures {
  readonly trials: number;
  readonly killedMidWork: number;
  readonly sessions: number;
  readonly lines: number;
  readonly decided: number;
  readonly unknown: number;
  readonly recovered: number;
  readonly lost: number;
  readonly twice: number;
  /** The lines written more than once (a tool run twice). */
  readonly duplicated: readonly string[];
  readonly gaps: number;
  readonly ledgerMismatch: number;
  readonly phantom: number;
}

/** Starts the child; kills it with SIGKILL `killAfterMs` after it is ready (never, if undefined). */
function runChild(
  target: string,
  out: string,
  killAfterMs: number | undefined,
  env: NodeJS.ProcessEnv | undefined,
): Promise<{ finished: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, target, out, String(SESSIONS)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: env ?? process.env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (killAfterMs !== undefined && stdout.startsWith("ready\n") && !child.killed)
        setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") return resolve({ finished: stdout.includes("done\n") });
      if (code !== 0) return reject(new Error(`child exited ${code}: ${stderr}`));
      resolve({ finished: true });
    });
  });
}

export async function killScenario(o: {
  /** The store the parent reads and decides approvals in; the child opens `target` (a file or a URL). */
  readonly parent: Store;
  readonly target: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly trials: number;
  /** A temporary folder for the lines the tool writes. */
  readonly dir: string;
}): Promise<KillFigures> {
  const { parent } = o;
  const out = join(o.dir, "lines.txt");
  writeFileSync(out, "");
  // Seeded: the same kill points every run (xorshift).
  let seed = 0x9e3779b9;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  let decided = 0;
  const decide = () => {
    for (const a of parent.approvals.list({ status: "pending" })) {
      const i = Number(a.sessionId.split("_")[1]);
      // Every 7th is denied; the rest approved. A second decision (same) is a no-op.
      const verdict =
        i % 7 === 0
          ? ({ outcome: "denied", reason: "not this one" } as const)
          : ({ outcome: "approved", scope: "once" } as const);
      parent.approvals.decide(a.id, verdict, { by: "parent", argsHash: a.argsHash });
      parent.approvals.decide(a.id, verdict, { by: "parent-again" });
      decided++;
    }
  };
  let killedMidWork = 0;
  for (let t = 0; t < o.trials; t++) {
    // Early kill points (0-12 ms after ready): most land while the sessions still have work.
    const { finished } = await runChild(o.target, out, Math.floor(random() * 12), o.env);
    if (!finished) killedMidWork++;
    decide();
  }
  // Then run to the end without kills (each pass may stop on approvals decided after it).
  for (let pass = 0; pass < 6; pass++) {
    await runChild(o.target, out, undefined, o.env);
    decide();
    const open = parent.sessions.list().filter((r) => r.status !== "closed" && r.status !== "completed");
    if (open.length === 0 && parent.sessions.list().length === SESSIONS) break;
  }

  const lines = readFileSync(out, "utf8").split("\n").filter(Boolean);
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  const twice = [...counts].filter(([, c]) => c > 1);
  let lost = 0;
  let gaps = 0;
  let ledgerMismatch = 0;
  let unknown = 0;
  let recovered = 0;
  let phantom = 0;
  for (let i = 0; i < SESSIONS; i++) {
    const scope = { tenantId: "local", sessionId: `ses_${i}` };
    const events: readonly ReinEvent[] = parent.eventLog.read(scope, 0);
    const ends = events.filter((e) => e.type === "run_ended");
    if (
      ends.at(-1)?.type !== "run_ended" ||
      (ends.at(-1) as { data: { status: string } }).data.status !== "completed"
    )
      lost++;
    if (!events.every((e, k) => e.seq === k + 1)) gaps++;
    let recorded = 0;
    const started = new Set<string>();
    for (const e of events) {
      if (e.type === "model_call_finished") recorded += e.data.costUsd;
      if (e.type === "run_resumed")
        for (const r of e.data.recoveredReservations) {
          recorded += r.costUsd;
          recovered++;
        }
      if (e.type === "tool_call_started") started.add((e.data.input as { line: string }).line);
      if (e.type === "tool_call_finished" && e.data.errorType === "outcome_unknown") unknown++;
      if (e.type === "tool_call_finished" && e.data.executed && e.data.ok) {
        const line = `ses_${i}:${e.data.callId.split("_")[1]}`;
        if (counts.get(line) !== 1) ledgerMismatch += 1000; // a finished call must have written once
      }
    }
    for (const l of lines) if (l.startsWith(`ses_${i}:`) && !started.has(l)) phantom++;
    const totals = parent.ledger.totals(scope);
    if (Math.abs(totals.costUsd - recorded) > 1e-9 || totals.reservedUsd !== 0) ledgerMismatch++;
  }
  return {
    trials: o.trials,
    killedMidWork,
    sessions: SESSIONS,
    lines: lines.length,
    decided,
    unknown,
    recovered,
    lost,
    twice: twice.length,
    duplicated: twice.map(([line]) => line),
    gaps,
    ledgerMismatch,
    phantom,
  };
}

export function expectNothingLost(f: KillFigures): void {
  expect(f.killedMidWork).toBeGreaterThan(f.trials / 2); // the kills really landed while work was going on
  expect(f.lost).toBe(0);
  expect(f.duplicated).toEqual([]);
  expect(f.gaps).toBe(0);
  expect(f.ledgerMismatch).toBe(0);
  expect(f.phantom).toBe(0);
}
