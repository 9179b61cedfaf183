/**
 * Runs one subject once in a fresh process and reports its peak RSS to the parent over IPC:
 * `fork("child.ts", [subjectId, calls, workdir, shape], { execArgv: ["--expose-gc"] })`.
 * Peak RSS is per process, so only a process that ran nothing else can attribute it to one subject.
 */
import { measure } from "../lib/measure.ts";
import { loadSubject, SHAPES, type ShapeId, SUBJECT_IDS, type SubjectId } from "./subjects.ts";

export interface ChildReport {
  readonly ms: number;
  readonly heldBytes: number;
  /** RSS once the subject's modules are loaded, before the run. */
  readonly startRssBytes: number;
  /** `process.resourceUsage().maxRSS`: the process's peak, loading included. */
  readonly maxRssBytes: number;
}

const [id, callsArg, workdir, shapeArg = "one"] = process.argv.slice(2);
if (!SUBJECT_IDS.includes(id as SubjectId) || callsArg === undefined || workdir === undefined) {
  throw new Error(`usage: child.ts <${SUBJECT_IDS.join("|")}> <calls> <workdir>`);
}
if (!process.send) throw new Error("child.ts reports over IPC: start it with child_process.fork");

const calls = Number(callsArg);
const subject = await loadSubject(id as SubjectId, workdir);
if (subject.available !== true) throw new Error(subject.available);
const startRssBytes = process.memoryUsage().rss;
const shape = SHAPES[shapeArg as ShapeId];
if (!shape) throw new Error(`unknown shape ${shapeArg}`);
const measured = await measure(() => subject.run(calls, shape));
subject.check(measured.value, calls);
const report: ChildReport = {
  ms: measured.ms,
  heldBytes: measured.heldBytes,
  startRssBytes,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
};
process.send(report, () => process.disconnect());
