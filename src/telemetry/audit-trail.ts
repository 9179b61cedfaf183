import { KeyObject } from "node:crypto";
import { close, constants, lstatSync, mkdir, mkdirSync, read, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ApprovalDecision } from "../protocol/approval.js";
import { AuditError, ConfigError, errorMessage, ReinError } from "../protocol/errors.js";
import type { EventSink, ReinEvent } from "../protocol/events.js";
import type { RiskAssessment } from "../protocol/risk.js";
import { type AuditKey, type AuditKeyHandle, auditKeyObject } from "./audit-key.js";
import { lineBytes } from "./audit-line-bytes.js";
import { AuditLock } from "./audit-lock.js";
import {
  AUDIT_VERSION,
  type AuditAlg,
  type ChainHasher,
  chainHasher,
  GENESIS_HASH,
  lineOf,
} from "./audit-record.js";
import {
  canonicalJson,
  type IntentFields,
  intentBodyParts,
  intentRecord,
  type RunFragments,
  riskJson,
  runFragments,
  summaryJsonParts,
  summaryOf,
  type ToolCallFields,
  toolCallBodyParts,
  toolCallRecord,
} from "./audit-record-body.js";
import {
  capRecord,
  DEFAULT_MAX_RECORD_BYTES,
  fitsCap,
  LINE_OVERHEAD,
  MAX_MAX_RECORD_BYTES,
  MIN_MAX_RECORD_BYTES,
} from "./audit-record-cap.js";
import { inspectAuditBytes, kindOf, readAuditFile } from "./audit-verify.js";
import type { JobResult, OpenJob, ThreadJob } from "./commit-thread.js";
import { fstatFd, openFd } from "./fs-calls.js";
import {
  type CommitFile,
  checkDescriptorPlace,
  errnoError,
  type GroupCommitWriter,
  type PreparedFile,
  placeError,
  sharedGroupCommitWriter,
} from "./group-commit-writer.js";

const SUMMARY_MAX_CHARS = 500;
/** One settled promise for every sync() with nothing to wait for. */
const RESOLVED: Promise<void> = Promise.resolve();
/** Failures the shared writer retries with backoff (see group-commit-writer.ts). */
const TRANSIENT = new Set(["EMFILE", "ENFILE", "EAGAIN", "EINTR", "EBUSY", "ENOMEM"]);

export interface AuditTrailOptions {
  /**
   * Makes the chain HMAC-SHA256 with this key (at least 16 bytes), so that someone who can write
   * the file cannot recompute it. Records name the algorithm (`alg`), never the key.
   */
  readonly key?: AuditKey | AuditKeyHandle;
  /** Cap of one record's line in bytes (default 64 KiB); larger records are truncated with a marker. */
  readonly maxRecordBytes?: number;
  /**
   * Whether a call of this tool gets an `intent` record, durable before the tool runs (default:
   * every tool). The harness passes "every tool not declared `readOnly`": a read-only tool changes
   * nothing, so a crash during it leaves nothing unaccounted for.
   */
  readonly intentFor?: (tool: string) => boolean;
  /** The group-commit writer (default: the process's shared one). */
  readonly writer?: GroupCommitWriter;
  /**
   * The tool's result as a tool_call record keeps it (`output.summary`, `output.bytes`), from what the
   * model read back. The harness passes its spotlight's `unwrap`: the record holds the (redacted)
   * result without the per-session markers and their nonce. Anything but a string answered keeps
   * what the model read.
   */
  readonly resultText?: (content: string) => string;
  /**
   * The file is new (its session id was just generated) and its folder is `realDir` (resolved):
   * the constructor touches no file; the first run creates the file, which must then be empty.
   * @internal the harness's, for the sessions it names.
   */
  readonly fresh?: { readonly realDir: string };
}

/** What the file held when this writer last left it: checked when the file opens again. */
interface Anchor {
  readonly size: number;
  readonly lastLine: Uint8Array;
  readonly index: number;
  readonly head: string;
}

interface Pending {
  input: unknown;
  /** The canonical JSON of `input`, once the intent record made it (the tool_call record reuses it). */
  inputJson?: string;
  originalInput?: unknown;
  risk: RiskAssessment | null;
  verdict: "allow" | "deny";
  approval: ApprovalDecision | null;
}

/**
 * The audit trail: one JSONL record per tool call, derived from the event stream, each carrying the
 * hash of the previous record, and a seal record when a run or the session ends (`rein audit verify`
 * checks it; see docs/audit.md).
 *
 * One writer per trail: from a run's start to its seal the trail holds a lock file beside it and an
 * open descriptor; between runs it holds neither. On taking the lock again it checks that the file
 * still ends with the bytes it last wrote; reopening an existing file verifies the whole chain and
 * requires it to end with a seal. Appending is O(1): the head lives in memory and the file is not
 * re-read per record.
 *
 * @example
 * const trail = new AuditTrail(".rein/audit/ses_1.jsonl", { key: process.env.REIN_AUDIT_KEY });
 * const harness = createHarness({ model: "scripted:demo", audit: false, sinks: [trail] });
 */
/** The `file` of an in-memory trail. */
const MEMORY = ":memory:";

export class AuditTrail implements EventSink {
  readonly name = "audit";
  readonly file: string;
  readonly alg: AuditAlg;
  readonly #hasher: ChainHasher;
  readonly #maxRecordBytes: number;
  readonly #realFile: string;
  readonly #lock: AuditLock | undefined;
  /** The lines of an in-memory trail (`AuditTrail.inMemory`); undefined for a file. */
  readonly #memory: string[] | undefined;
  readonly #writer: GroupCommitWriter;
  readonly #intentFor: (tool: string) => boolean;
  readonly #resultText: ((content: string) => string) | undefined;
  /** This run's queue in the shared writer (from run start to its seal). */
  #commit: CommitFile | undefined;
  /** The last release (seal written, descriptor and lock released): what sync() and close() wait for. */
  #closing: Promise<void> | undefined;
  #prevHash = GENESIS_HASH;
  #index = 0;
  #records = 0;
  #seals = 0;
  /**
   * What the file holds as far as this writer knows: its size and its last line's bytes (during a
   * run, the bytes queued for the writer; between runs, the same bytes as a Latin-1 string, see #release).
   */
  #size = 0;
  #lastLine: Uint8Array | string = "";
  /**
   * The fields of the seal when it is the last line this writer wrote: between runs the line is
   * made again from them (and the head hash, which is its hash) rather than kept (~450 bytes).
   */
  #lastSeal: SealFields | undefined;
  /** The calls of this run not yet recorded; made by the run's first call, dropped at its seal. */
  #pending: Map<string, Pending> | undefined;
  #turnCost = 0;
  #sessionCost = 0;
  /** The current run's constant fields as JSON, and the last risk's JSON (calls of a tool share it). */
  #run: RunFragments | undefined;
  #lastRisk: { level: string; reason: string; rule: string; json: string } | undefined;

  /**
   * A trail kept in memory: the same hash chain and seals, written to no file (`createHarness`'s
   * default, so a library harness writes nothing to disk unless told where). `text()` gives its lines.
   *
   * @example
   * const trail = AuditTrail.inMemory();
   * // … a session with sinks: [trail] …
   * verifyAuditText(trail.text());
   */
  static inMemory(options: AuditTrailOptions = {}): AuditTrail {
    return new AuditTrail(MEMORY, options);
  }

  constructor(file: string, options: AuditTrailOptions = {}) {
    this.file = file;
    const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    if (!Number.isInteger(max) || max < MIN_MAX_RECORD_BYTES || max > MAX_MAX_RECORD_BYTES)
      throw new ConfigError(
        `audit.maxRecordBytes must be an integer from ${MIN_MAX_RECORD_BYTES} to ${MAX_MAX_RECORD_BYTES}, got ${String(max)}.`,
        { field: "audit.maxRecordBytes" },
      );
    this.#maxRecordBytes = max;
    const key =
      options.key === undefined || options.key instanceof KeyObject
        ? options.key
        : auditKeyObject(options.key as AuditKey, "audit.key");
    this.#hasher =
      options.key === undefined || options.key instanceof KeyObject ? sharedHasher(key) : chainHasher(key);
    this.alg = this.#hasher.alg;
    this.#intentFor = options.intentFor ?? (() => true);
    this.#resultText = options.resultText;
    this.#writer = options.writer ?? sharedGroupCommitWriter();
    if (file === MEMORY) {
      this.#memory = [];
      this.#realFile = MEMORY;
      this.#lock = undefined;
      return;
    }
    this.#memory = undefined;
    if (options.fresh) {
      // No I/O per session: the folder was resolved once, and the first run's open checks the file is empty.
      // The same string as `file` when the folder was given resolved (one copy kept, not two).
      const realFile = join(options.fresh.realDir, basename(file));
      this.#realFile = realFile === file ? file : realFile;
      this.#lock = new AuditLock(this.#realFile);
      return;
    }
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      this.#realFile = join(realpathSync(dirname(file)), basename(file));
    } catch (err) {
      throw writeFailed(file, "open", err);
    }
    this.#lock = new AuditLock(this.#realFile);
    if (this.#exists()) this.#resume(key);
  }

  /** True for a trail kept in memory (`AuditTrail.inMemory`). */
  get inMemory(): boolean {
    return this.#memory !== undefined;
  }

  /** The trail's JSONL text: an in-memory trail's lines (a file trail: read the file). */
  text(): string {
    if (this.#memory === undefined)
      throw new AuditError("REIN_AUDIT_UNREADABLE", `The audit trail is a file: read ${this.file}.`, {
        file: this.file,
      });
    return this.#memory.join("");
  }

  /** The hash of the last record written (keep it elsewhere and pass it to `verify --head` to detect truncation). */
  get headHash(): string {
    return this.#prevHash;
  }

  /** Tool-call records in the chain (seals not counted). */
  get records(): number {
    return this.#records;
  }

  get seals(): number {
    return this.#seals;
  }

  handle(event: ReinEvent): void {
    switch (event.type) {
      case "run_started":
        this.#open();
        return;
      case "model_call_finished":
        this.#turnCost = event.data.costUsd;
        this.#sessionCost = event.data.sessionCostUsd;
        return;
      case "tool_call_requested":
        this.#pending ??= new Map();
        this.#pending.set(event.data.callId, {
          input: event.data.input,
          risk: null,
          verdict: "deny",
          approval: null,
        });
        return;
      case "tool_call_decided": {
        const p = this.#pending?.get(event.data.callId);
        if (p) {
          p.risk = event.data.risk;
          p.verdict = event.data.verdict;
          p.approval = event.data.approval;
        }
        return;
      }
      case "tool_call_started": {
        // The executed input (a rewriteToolInput hook may have replaced the model's, which is kept too).
        const p = this.#pending?.get(event.data.callId);
        if (p) {
          p.input = event.data.input;
          if (event.data.originalInput !== undefined) p.originalInput = event.data.originalInput;
        }
        // Written before the tool runs (the loop's durability barrier waits for it): a crash during
        // the call leaves a record that it started. The barrier also waits for the records before
        // it (a finished call's record waits for the next barrier), whether or not this call has an intent.
        if (this.#intentFor(event.data.tool)) this.#writeIntent(event);
        else this.#commit?.requireAll();
        return;
      }
      case "tool_call_finished":
        this.#writeToolCall(event);
        return;
      case "run_ended":
      case "session_ended":
        // Sealed, then no descriptor or lock stays held between runs, even if the caller never closes the session.
        try {
          this.#seal(event);
        } finally {
          this.#pending = undefined;
          this.#release();
        }
        return;
      default:
        return;
    }
  }

  /**
   * Resolves when every record handed over so far is written (write(2) returned, so it survives a
   * crash of this process, not a power loss: there is no fsync), except a finished call's record
   * when no call started after it: that one is written with the next call's intent (sync() waits for
   * it, and for every record before it, before a call runs, read-only or not), or the seal, or with
   * the writer's next batch (the next turn of the event loop) at the latest, so a tight loop pays one
   * write per call. After a seal, once the
   * descriptor and the lock are released. Rejects with `REIN_AUDIT_WRITE_FAILED` (or
   * `REIN_AUDIT_INVALID` when the file changed under the writer) when the records cannot be written.
   */
  sync(): Promise<void> {
    return this.#commit?.sync() ?? this.#closing ?? RESOLVED;
  }

  /**
   * Resolves once the run's file is open (its lock taken, its content checked, off the event loop);
   * rejects with the trail's error (`REIN_AUDIT_LOCKED`, `REIN_AUDIT_INVALID`, …) when it cannot be.
   */
  ready(): Promise<void> {
    return this.#commit?.opened() ?? Promise.resolve();
  }

  /** Writes what is queued, then releases the descriptor and the lock (the next run takes them again). */
  close(): Promise<void> {
    this.#release();
    return this.#closing ?? Promise.resolve();
  }

  #release(): void {
    // The last line is kept for the next run's check, as a copy: not a view that keeps a shared
    // buffer of other sessions' lines alive while this session is idle. A seal is made again from
    // its fields; another line is kept as a Latin-1 string (one character per byte, so the same
    // bytes): ~180 bytes less than a Uint8Array with its ArrayBuffer and memory outside the heap.
    const last = this.#lastLine;
    if (this.#lastSeal !== undefined) this.#lastLine = "";
    else if (typeof last !== "string")
      this.#lastLine = Buffer.from(last.buffer, last.byteOffset, last.byteLength).toString("latin1");
    // The run's JSON fragments and last risk are remade by the next run's first record.
    this.#run = undefined;
    this.#lastRisk = undefined;
    const commit = this.#commit;
    if (commit === undefined) {
      this.#lock?.release();
      return;
    }
    this.#commit = undefined;
    const lock = this.#lock;
    const writer = this.#writer;
    this.#closing = commit.release().finally(() => lock?.releaseAsync(jobRunner(writer)));
    // A caller that never awaits sync()/close() must not see an unhandled rejection; the ones that do get it.
    this.#closing.catch(() => {});
  }

  #writeIntent(event: Extract<ReinEvent, { type: "tool_call_started" }>): void {
    const d = event.data;
    const inputJson = canonicalJson(d.input);
    const p = this.#pending?.get(d.callId);
    if (p !== undefined && p.input === d.input) p.inputJson = inputJson;
    const f: IntentFields = {
      alg: this.alg,
      callId: d.callId,
      index: this.#index,
      input: d.input,
      prevHash: this.#prevHash,
      runId: event.runId,
      seq: event.seq,
      sessionId: event.sessionId,
      tenantId: event.tenantId,
      tool: d.tool,
      ts: event.ts,
    };
    // In parts, encoded one after the other: no string of the whole body per record.
    const body = intentBodyParts(f, this.#fragments(event), inputJson);
    this.#append(
      body !== undefined && partsFitCap(body, this.#maxRecordBytes)
        ? body
        : capRecord(intentRecord(f), this.#maxRecordBytes),
    );
  }

  #writeToolCall(event: Extract<ReinEvent, { type: "tool_call_finished" }>): void {
    const d = event.data;
    const p = this.#pending?.get(d.callId);
    this.#pending?.delete(d.callId);
    const risk = p?.risk ?? null;
    const content = this.#recorded(d.content);
    const f: ToolCallFields = {
      alg: this.alg,
      approval: p?.approval ?? null,
      callId: d.callId,
      sessionUsd: this.#sessionCost,
      turnUsd: this.#turnCost,
      decision: p?.verdict ?? "deny",
      durationMs: Math.round(d.durationMs * 1000) / 1000,
      executed: d.executed,
      index: this.#index,
      input: p?.input,
      originalInput: p?.originalInput,
      bytes: Buffer.byteLength(content),
      errorType: d.errorType,
      ok: d.ok,
      summary: summaryOf(content, SUMMARY_MAX_CHARS),
      prevHash: this.#prevHash,
      risk,
      runId: event.runId,
      seq: event.seq,
      sessionId: event.sessionId,
      tenantId: event.tenantId,
      tool: d.tool,
      ts: event.ts,
      turn: d.turn,
    };
    // The body in parts (its summary's among them): encoded one after the other, never joined.
    let body = toolCallBodyParts(
      f,
      this.#fragments(event),
      p?.inputJson ?? canonicalJson(f.input),
      f.originalInput === undefined ? undefined : canonicalJson(f.originalInput),
      this.#riskJson(risk),
      summaryJsonParts(content, SUMMARY_MAX_CHARS),
    );
    if (body !== undefined && !partsFitCap(body, this.#maxRecordBytes)) body = undefined;
    // Not waited for by sync(): it goes with the next record waited for (the next call's intent, the
    // seal, which must be durable before anything else happens), or the writer's next batch at the latest.
    this.#append(body ?? capRecord(toolCallRecord(f), this.#maxRecordBytes), true);
    this.#records++;
  }

  /** What a tool_call record keeps of the result the model read (see AuditTrailOptions.resultText). */
  #recorded(content: string): string {
    if (this.#resultText === undefined) return content;
    const text: unknown = this.#resultText(content);
    return typeof text === "string" ? text : content;
  }

  #fragments(event: ReinEvent): RunFragments {
    const run = this.#run;
    if (run?.runId === event.runId && run.sessionId === event.sessionId && run.tenantId === event.tenantId)
      return run;
    this.#run = runFragments(this.alg, event.runId, event.sessionId, event.tenantId);
    return this.#run;
  }

  #riskJson(risk: RiskAssessment | null): string {
    if (risk === null) return "null";
    const last = this.#lastRisk;
    if (last?.level === risk.level && last.reason === risk.reason && last.rule === risk.rule)
      return last.json;
    const json = riskJson(risk);
    this.#lastRisk = { level: risk.level, reason: risk.reason, rule: risk.rule, json };
    return json;
  }

  #seal(event: Extract<ReinEvent, { type: "run_ended" | "session_ended" }>): void {
    const seal: SealFields = {
      head: this.#prevHash,
      index: this.#index,
      reason: event.type,
      records: this.#records,
      runId: event.runId,
      seq: event.seq,
      sessionId: event.sessionId,
      tenantId: event.tenantId,
      ts: event.ts,
    };
    this.#append(sealBody(this.alg, seal));
    if (this.#memory === undefined) this.#lastSeal = seal;
    this.#seals++;
  }

  /** Appends one record: its body (canonical JSON), whole or in parts to be concatenated. */
  #append(body: string | readonly string[], later = false): void {
    if (this.#memory !== undefined) {
      const whole = typeof body === "string" ? body : body.join("");
      const digest = this.#hasher.digest(whole);
      this.#memory.push(lineOf(whole, digest));
      this.#prevHash = digest;
      this.#index++;
      return;
    }
    this.#open();
    // After #open: the file opens checked against the last line before this one.
    this.#lastSeal = undefined;
    // Encoded once: the bytes hashed are the bytes queued and written (no string is encoded twice).
    const line = lineBytes(body, this.#hasher);
    // Queued for the next batch: the shared writer writes every trail's lines once per tick.
    if (later) this.#commit!.appendLater(line.bytes);
    else this.#commit!.append(line.bytes);
    this.#size += line.bytes.length;
    this.#lastLine = line.bytes;
    this.#prevHash = line.digest;
    this.#index++;
  }

  /**
   * Hands the file to the shared writer, which opens it asynchronously (`#prepare`) and may close it
   * when idle and reopen it, checking it finds the same file at the size it left. Once per run: the
   * records themselves are written in batches. Nothing here blocks the event loop; a failure (the
   * lock is held, the file changed) fails the trail's `sync()`, the loop's barrier before any tool runs.
   */
  #open(): void {
    if (this.#commit !== undefined || this.#lock === undefined) return;
    // What the file must hold when it opens: what this writer left (lines appended from now on wait in the queue).
    const last = this.#lastLine;
    const seal = this.#lastSeal;
    const anchor: Anchor = {
      size: this.#size,
      // The seal's line is its body with its hash, the head: the bytes #append wrote.
      lastLine:
        seal !== undefined
          ? utf8Bytes(lineOf(sealBody(this.alg, seal), this.#prevHash))
          : typeof last === "string"
            ? latin1Bytes(last)
            : last,
      index: this.#index,
      head: this.#prevHash,
    };
    this.#commit = this.#writer.file({
      display: this.file,
      realFile: this.#realFile,
      prepare: (keep) => this.#prepare(anchor, keep),
    });
  }

  /**
   * Takes the lock, opens the file and checks it is still what this writer left; all off the event
   * loop. `keep` false: the file is closed again once checked (fd -1: the writer has no slot for it).
   */
  async #prepare(anchor: Anchor, keep: boolean): Promise<PreparedFile> {
    const lock = this.#lock!;
    const runJob = jobRunner(this.#writer);
    const openJob: OpenJob = {
      kind: "open",
      path: this.#realFile,
      size: anchor.size,
      tail: anchor.lastLine,
      ...(keep ? {} : { keep: false }),
    };
    // On the writer's thread, the open goes with the lock, in one job.
    const opened = await lock.acquireAsync(runJob, openJob);
    let fd: number | undefined;
    try {
      // On the writer's thread when there is one: the same calls and checks, with the turn's batch.
      let r: JobResult | undefined = opened;
      if (r === undefined) {
        const viaThread = this.#writer.job(openJob);
        if (viaThread !== undefined) r = await viaThread;
      }
      if (r !== undefined) {
        if (r.code !== undefined) throw errnoError(r);
        if (r.kind !== undefined || r.fd === undefined || (keep && r.fd < 0))
          throw this.#invalid(`it is ${r.kind ?? "not a regular file"}, not a regular file`);
        if (r.fd >= 0) fd = r.fd;
        if (r.link !== undefined && r.link !== this.#realFile)
          throw placeError(this.file, this.#realFile, r.link);
        if (!r.tailOk) throw this.#changed(r.size ?? 0, anchor);
        // Asked not to keep it: the thread closed it once checked.
        if (!keep && fd !== undefined) {
          close(fd, () => {});
          fd = undefined;
        }
        return { fd: fd ?? -1, size: r.size!, identity: r.identity! };
      }
      const flags = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
      try {
        fd = await openFd(this.#realFile, flags);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        // The folder went away since it was resolved: made again, then judged by checkPlace below.
        await new Promise<void>((resolve, reject) =>
          mkdir(dirname(this.#realFile), { recursive: true, mode: 0o700 }, (e) =>
            e ? reject(e) : resolve(),
          ),
        );
        fd = await openFd(this.#realFile, flags);
      }
      const stats = await fstatFd(fd);
      if (!stats.isFile()) throw this.#invalid(`it is ${kindOf(stats)}, not a regular file`);
      await checkDescriptorPlace(this.file, this.#realFile, fd);
      await this.#checkAnchor(fd, stats.size, anchor);
      const identity = `${stats.dev}:${stats.ino}`;
      if (!keep) {
        // Checked; the writer reopens it (checked again) for each batch until it has a slot for it.
        close(fd, () => {});
        fd = undefined;
        return { fd: -1, size: stats.size, identity };
      }
      return { fd, size: stats.size, identity };
    } catch (err) {
      if (fd !== undefined) close(fd, () => {});
      await lock.releaseAsync(runJob);
      const code = (err as NodeJS.ErrnoException).code;
      // A transient errno is the writer's to retry; anything else is this trail's typed failure.
      throw err instanceof ReinError || (code !== undefined && TRANSIENT.has(code))
        ? err
        : writeFailed(this.file, "open", err);
    }
  }

  /** The file must end exactly with the last line this writer wrote or verified (no truncation, no other writer). */
  async #checkAnchor(fd: number, size: number, anchor: Anchor): Promise<void> {
    const expected = Buffer.from(anchor.lastLine.buffer, anchor.lastLine.byteOffset, anchor.lastLine.length);
    let tail = Buffer.alloc(0);
    if (size === anchor.size && size >= expected.length && expected.length > 0) {
      const buffer = Buffer.alloc(expected.length);
      const n = await new Promise<number>((resolve, reject) =>
        read(fd, buffer, 0, expected.length, size - expected.length, (err, bytes) =>
          err ? reject(err) : resolve(bytes),
        ),
      );
      tail = buffer.subarray(0, n);
    }
    if (size !== anchor.size || !tail.equals(expected)) throw this.#changed(size, anchor);
  }

  #changed(size: number, anchor: Anchor): AuditError {
    return this.#invalid(
      `it changed since this writer last wrote it (expected ${anchor.size} bytes ending with record ${anchor.index - 1}, head ${anchor.head}; found ${size} bytes): it was truncated, edited or written by another writer. Run "rein audit verify ${this.file}"`,
    );
  }

  #exists(): boolean {
    try {
      const stats = lstatSync(this.#realFile);
      if (!stats.isFile()) throw this.#invalid(`it is ${kindOf(stats)}, not a regular file`);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }

  /** Continues an existing chain: verifies the whole file once, under the lock; it must end with a seal. */
  #resume(key: KeyObject | undefined): void {
    const lock = this.#lock!;
    lock.acquire();
    try {
      const bytes = readAuditFile(this.#realFile);
      const { verdict, nextIndex, lastLine } = inspectAuditBytes(bytes, this.file, { key });
      if (!verdict.ok) {
        const where = "line" in verdict ? ` (line ${verdict.line})` : "";
        throw this.#invalid(
          `it does not verify${where}: ${verdict.reason}. A trail that was truncated, edited or left unsealed is not continued; run "rein audit verify ${this.file}", and write new records to a new file`,
        );
      }
      this.#prevHash = verdict.headHash;
      this.#index = nextIndex;
      this.#records = verdict.records;
      this.#seals = verdict.seals;
      this.#size = bytes.length;
      // A copy: not a view that keeps the whole file's bytes alive (as #release keeps it).
      this.#lastLine = Buffer.from(lastLine.buffer, lastLine.byteOffset, lastLine.byteLength).toString(
        "latin1",
      );
    } finally {
      lock.release();
    }
  }

  #invalid(why: string): AuditError {
    return new AuditError("REIN_AUDIT_INVALID", `Cannot continue the audit trail ${this.file}: ${why}.`, {
      file: this.file,
    });
  }
}

/** The lock's steps go to the shared writer's thread when it has one (made per run, not kept per trail). */
function jobRunner(writer: GroupCommitWriter): (job: ThreadJob) => ReturnType<GroupCommitWriter["job"]> {
  return (job) => writer.job(job);
}

/** `text`'s characters as bytes (each below 256: a line kept by #release), in a buffer of their own. */
function latin1Bytes(text: string): Uint8Array {
  const bytes = Buffer.allocUnsafeSlow(text.length);
  bytes.write(text, "latin1");
  return bytes;
}

/** `text` as UTF-8, in a buffer of its own. */
function utf8Bytes(text: string): Uint8Array {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text, "utf8");
  return bytes;
}

/** What a seal record says besides its constants (`alg`, `kind`, `v`); `prevHash` is `head`. */
interface SealFields {
  readonly head: string;
  readonly index: number;
  readonly reason: "run_ended" | "session_ended";
  readonly records: number;
  readonly runId: string;
  readonly seq: number;
  readonly sessionId: string;
  readonly tenantId: string;
  readonly ts: number;
}

/** A seal record's body (the JSON hashed): one function, so the line made again is the line written. */
function sealBody(alg: string, f: SealFields): string {
  return JSON.stringify({
    alg,
    head: f.head,
    index: f.index,
    kind: "seal",
    prevHash: f.head,
    reason: f.reason,
    records: f.records,
    runId: f.runId,
    seq: f.seq,
    sessionId: f.sessionId,
    tenantId: f.tenantId,
    ts: f.ts,
    v: AUDIT_VERSION,
  });
}

/**
 * One hasher per key, shared by the trails that use it (a hasher is a function of its key alone):
 * the harness gives every session's trail the same key, or none. Keys given as strings or bytes
 * make a key object per trail, and a hasher of their own.
 */
const hashers = new WeakMap<KeyObject, ChainHasher>();
let plainHasher: ChainHasher | undefined;

function sharedHasher(key: KeyObject | undefined): ChainHasher {
  if (key === undefined) {
    plainHasher ??= Object.freeze(chainHasher(undefined));
    return plainHasher;
  }
  let hasher = hashers.get(key);
  if (hasher === undefined) {
    hasher = Object.freeze(chainHasher(key));
    hashers.set(key, hasher);
  }
  return hasher;
}

/** `fitsCap` of the body made of `parts`. */
function partsFitCap(parts: readonly string[], maxBytes: number): boolean {
  let chars = 0;
  for (let i = 0; i < parts.length; i++) chars += parts[i]!.length;
  return chars * 3 + LINE_OVERHEAD <= maxBytes || fitsCap(parts.join(""), maxBytes);
}

function writeFailed(file: string, verb: string, err: unknown): AuditError {
  return new AuditError(
    "REIN_AUDIT_WRITE_FAILED",
    `Cannot ${verb} the audit trail ${file}: ${errorMessage(err)}`,
    { file },
    { cause: err },
  );
}
