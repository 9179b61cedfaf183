import { basename, extname } from "node:path";
import { ModelError, ScriptError } from "../../../protocol/errors.js";
import type { Message, TextBlock, ToolResultBlock, ToolUseBlock, Usage } from "../../../protocol/messages.js";
import { parkedPromise, takeReject, takeResolve } from "../../../protocol/parked-promise.js";
import type { Model, ModelRequest, ModelResponse, ModelStopReason } from "../../model.js";
import { loadScript, validateScript } from "./load-script.js";
import type { Script, ScriptBranch, ScriptCondition, ScriptTurn } from "./script-schema.js";

export interface ScriptedModelOptions {
  /** Where the script came from; named in errors and, without `script.name`, the source of the model id. */
  readonly file?: string;
}

/**
 * Rein's embedded default model: plays a script of assistant turns (text, tool calls, token usage),
 * deterministically and without an API key. A turn can branch on the previous turn's tool results,
 * so demos and tests react to what the harness did. The format is documented in docs/scripted-model.md.
 *
 * One instance serves many conversations: the position in the script is kept per `request.messages`
 * array (the session appends to the same array in place), and each call costs O(1) regardless of the
 * history's length. An array seen for the first time is counted once, so a resumed conversation
 * continues after its last assistant message. A call that fails with `fail` uses up its turn (so a
 * retry gets the next one); an aborted call does not.
 *
 * @example
 * ```ts
 * const model = scriptedModel({
 *   name: "demo",
 *   turns: [
 *     { say: "Let me look.", tool_calls: [{ tool: "list_directory", input: { path: "." } }] },
 *     { when: [{ if: { error: "permission_denied" }, say: "I was refused; stopping." }], say: "Done." },
 *   ],
 * });
 * model.id; // "scripted:demo"
 * ```
 */
export class ScriptedModel implements Model {
  readonly id: string;
  readonly file: string;
  readonly #turns: readonly CompiledTurn[];
  /** `#ends[i]`: how many calls turns 0..i answer together (repeat included). */
  readonly #ends: readonly number[];
  readonly #cursors = new WeakMap<readonly Message[], Cursor>();

  /** Expects a validated script: use {@link scriptedModel}, `loadScript` or `validateScript` for raw input. */
  constructor(script: Script, options: ScriptedModelOptions = {}) {
    this.file = options.file ?? "<inline>";
    const fromFile = options.file === undefined ? undefined : basename(options.file, extname(options.file));
    this.id = `scripted:${script.name ?? fromFile ?? "inline"}`;
    this.#turns = script.turns.map(compileTurn);
    let total = 0;
    this.#ends = this.#turns.map((turn) => (total += turn.repeat));
  }

  // Not an async function: a call that waits pays one `then` on the wait, not an async frame and its await.
  generate(request: ModelRequest): Promise<ModelResponse> {
    try {
      const { signal, messages } = request;
      if (signal.aborted) throw signal.reason;

      const cursor = this.#cursorFor(messages);
      const turnNumber = cursor.played + 1;
      const turn = this.#turns[cursor.entry];
      if (turn === undefined) throw this.#exhausted(turnNumber);

      const reply =
        turn.branches.length === 0 ? turn.reply : chooseReply(turn, messages, cursor.previousCalls);
      if (turn.delayMs > 0) {
        // The answer is played when the wait ends and settles the call's promise itself (no `then`
        // and closure per call); an abort rejects it first.
        const wait = new Wait(this, request, signal, cursor, turn, reply, turnNumber);
        // One executor for every wait (protocol/parked-promise.ts): no closure per call.
        const answer = parkedPromise<ModelResponse>();
        wait.reject = takeReject();
        wait.resolve = takeResolve<ModelResponse>();
        // No `{ once: true }`: its options object is validated and copied per call; the listener
        // is removed by whichever of the timer and the abort comes first. The listener first: a
        // signal that refuses it (throws) leaves no timer behind.
        signal.addEventListener("abort", wait);
        wait.timer = setTimeout(ScriptedModel.#wake, turn.delayMs, wait);
        return answer;
      }
      return Promise.resolve(this.#play(request, cursor, turn, reply, turnNumber));
    } catch (err) {
      // Thrown before the wait (aborted, exhausted) or by the answer itself: a rejection, as from an async function.
      return Promise.reject(err);
    }
  }

  /** A wait's time is up: its answer is played now (a `fail` reply rejects). */
  static #wake(wait: Wait): void {
    wait.signal.removeEventListener("abort", wait);
    let response: ModelResponse;
    try {
      response = wait.model.#play(wait.request, wait.cursor, wait.turn, wait.reply, wait.turnNumber);
    } catch (err) {
      wait.reject(err);
      return;
    }
    wait.resolve(response);
  }

  /** Plays `reply` as call `turnNumber` of the conversation (its turn is used up, even by `fail`). */
  #play(
    request: ModelRequest,
    cursor: Cursor,
    turn: CompiledTurn,
    reply: CompiledReply,
    turnNumber: number,
  ): ModelResponse {
    advance(cursor, turn);
    if (reply.fail !== undefined) {
      cursor.previousCalls = [];
      throw new ModelError("REIN_MODEL_CALL_FAILED", reply.fail, {
        model: this.id,
        file: this.file,
        turn: turnNumber,
      });
    }

    // Exact size (the cursor keeps it until the next call; one grown by push has room for 17).
    const calls = new Array<ToolUseBlock>(reply.calls.length);
    for (let index = 0; index < calls.length; index++) {
      const call = reply.calls[index]!;
      calls[index] = {
        type: "tool_use",
        id: `toolu_${turnNumber}_${index}`,
        name: call.name,
        // A fresh copy per call, as a real provider would give: the harness may hold on to it.
        input: call.hasInput ? structuredClone(call.input) : {},
      };
    }
    cursor.previousCalls = calls;

    if (reply.text !== undefined && request.onTextDelta) {
      for (const chunk of reply.chunks) request.onTextDelta(chunk);
    }
    // Exact-size content (a spread in a literal leaves room for 17 blocks): the history keeps it for
    // as long as the session lives. A copy of `calls`, which the cursor keeps.
    const text: TextBlock | undefined =
      reply.text === undefined ? undefined : { type: "text", text: reply.text };
    return {
      content: text === undefined ? calls.slice() : [text as TextBlock | ToolUseBlock].concat(calls),
      stopReason: reply.stopReason,
      usage: { ...reply.usage },
      model: this.id,
    };
  }

  /** The conversation's cursor; derived once, by counting assistant messages, for an array seen first. */
  #cursorFor(messages: readonly Message[]): Cursor {
    let cursor = this.#cursors.get(messages);
    if (cursor !== undefined) return cursor;
    let played = 0;
    let lastAssistant: Message | undefined;
    const length = messages.length;
    for (let i = 0; i < length; i++) {
      const message = messages[i];
      if (message?.role === "assistant") {
        played++;
        lastAssistant = message;
      }
    }
    const previousCalls = (lastAssistant?.content ?? []).filter(
      (b): b is ToolUseBlock => b.type === "tool_use",
    );
    cursor = { ...this.#positionOf(played), played, previousCalls };
    this.#cursors.set(messages, cursor);
    return cursor;
  }

  /** The turn entry that answers call number `played + 1`: binary search over `#ends`. */
  #positionOf(played: number): { entry: number; playedInEntry: number } {
    let lo = 0;
    let hi = this.#ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ends[mid]! <= played) lo = mid + 1;
      else hi = mid;
    }
    const start = lo === 0 ? 0 : this.#ends[lo - 1]!;
    return { entry: lo, playedInEntry: played - start };
  }

  #exhausted(turnNumber: number): ScriptError {
    const total = this.#ends[this.#ends.length - 1] ?? 0;
    const entries = this.#turns.length;
    const size = `${total} turn${total === 1 ? "" : "s"}${total === entries ? "" : ` (${entries} entries with repeat)`}`;
    return new ScriptError(
      "REIN_SCRIPT_EXHAUSTED",
      `${this.file}: script exhausted: the model was asked for turn ${turnNumber}, but the script has only ${size}. ` +
        "Add turns, or end the script with a turn without tool_calls so the run completes.",
      { file: this.file, turn: turnNumber },
    );
  }
}

/**
 * A scripted model from a script file (YAML, or JSON for `.json`) or an inline script object.
 * Throws `ScriptError` (`REIN_SCRIPT_NOT_FOUND`, `REIN_SCRIPT_INVALID`) naming the file, line, turn and field.
 *
 * @example
 * ```ts
 * const model = scriptedModel("scripts/demo/cleanup.yaml"); // id "scripted:cleanup-demo" (its `name`)
 * ```
 */
export function scriptedModel(source: string | object): ScriptedModel {
  if (typeof source === "string") return new ScriptedModel(loadScript(source), { file: source });
  return new ScriptedModel(validateScript(source));
}

/** Per-conversation position in the script. */
interface Cursor {
  /** Calls answered so far (failed ones included); the next call is turn `played + 1`. */
  played: number;
  /** Index into the script's turns. */
  entry: number;
  /** Calls the current entry has answered, for `repeat`. */
  playedInEntry: number;
  /** Tool calls of the last answer: how a result's `tool_use_id` maps back to a tool name. */
  previousCalls: readonly ToolUseBlock[];
}

function advance(cursor: Cursor, turn: CompiledTurn): void {
  cursor.played++;
  cursor.playedInEntry++;
  if (cursor.playedInEntry === turn.repeat) {
    cursor.entry++;
    cursor.playedInEntry = 0;
  }
}

/** A reply with every default applied and its text pre-split for streaming. */
interface CompiledReply {
  readonly text: string | undefined;
  readonly chunks: readonly string[];
  readonly calls: readonly { name: string; input: Record<string, unknown>; hasInput: boolean }[];
  readonly usage: Usage;
  readonly fail: string | undefined;
  readonly stopReason: ModelStopReason;
}

interface CompiledTurn {
  readonly reply: CompiledReply;
  readonly branches: readonly { condition: ScriptCondition; reply: CompiledReply }[];
  readonly repeat: number;
  readonly delayMs: number;
}

function compileTurn(turn: ScriptTurn): CompiledTurn {
  return {
    reply: compileReply(turn),
    branches: (turn.when ?? []).map((branch) => ({ condition: branch.if, reply: compileReply(branch) })),
    repeat: turn.repeat ?? 1,
    delayMs: turn.delay_ms ?? 0,
  };
}

/** A branch replaces all of these at once; what it leaves out is absent, not inherited from the turn. */
function compileReply(fields: ScriptTurn | ScriptBranch): CompiledReply {
  const calls = (fields.tool_calls ?? []).map((call) => {
    const input = call.input ?? {};
    return { name: call.tool, input, hasInput: Object.keys(input).length > 0 };
  });
  const text = fields.say === undefined || fields.say === "" ? undefined : fields.say;
  return {
    text,
    chunks: text === undefined ? [] : splitForStreaming(text),
    calls,
    usage: {
      inputTokens: fields.usage?.input_tokens ?? 0,
      outputTokens: fields.usage?.output_tokens ?? 0,
      cacheReadTokens: fields.usage?.cache_read_tokens ?? 0,
      cacheWriteTokens: fields.usage?.cache_write_tokens ?? 0,
    },
    fail: fields.fail,
    stopReason: fields.stop_reason ?? (calls.length > 0 ? "tool_use" : "end_turn"),
  };
}

/** Word-sized chunks that concatenate back to `text` exactly: "I'll look" → ["I'll ", "look"]. */
function splitForStreaming(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [text];
}

/** A previous tool result, as conditions see it. */
interface SeenResult {
  readonly tool: string | undefined;
  readonly isError: boolean;
  /** `error.type` of an error result's JSON content; undefined if not an error or not parseable. */
  readonly errorType: string | undefined;
  readonly content: string;
}

/** The reply of the first branch whose condition holds, else the turn's own. Reads only the last message. */
function chooseReply(
  turn: CompiledTurn,
  messages: readonly Message[],
  previousCalls: readonly ToolUseBlock[],
): CompiledReply {
  const last = messages[messages.length - 1];
  const results: SeenResult[] = [];
  if (last?.role === "user") {
    for (const block of last.content) {
      if (block.type === "tool_result") results.push(seenResult(block, previousCalls));
    }
  }
  for (const branch of turn.branches) if (holds(branch.condition, results)) return branch.reply;
  return turn.reply;
}

function seenResult(block: ToolResultBlock, previousCalls: readonly ToolUseBlock[]): SeenResult {
  const tool = previousCalls.find((call) => call.id === block.tool_use_id)?.name;
  const isError = block.is_error === true;
  return {
    tool,
    isError,
    errorType: isError ? errorTypeOf(block.content) : undefined,
    content: block.content,
  };
}

function errorTypeOf(content: string): string | undefined {
  try {
    const type = (JSON.parse(content) as { error?: { type?: unknown } } | null)?.error?.type;
    return typeof type === "string" ? type : undefined;
  } catch {
    return undefined;
  }
}

/** Every given field must hold; `tool` narrows the others, and no result left means no match. */
function holds(condition: ScriptCondition, results: readonly SeenResult[]): boolean {
  const { tool, ok, error, contains } = condition;
  const subset = tool === undefined ? results : results.filter((r) => r.tool === tool);
  if (subset.length === 0) return false;
  if (ok === true && subset.some((r) => r.isError)) return false;
  if (error !== undefined && !subset.some((r) => r.isError && (error === "any" || r.errorType === error))) {
    return false;
  }
  if (contains !== undefined && !subset.some((r) => r.content.includes(contains))) return false;
  return true;
}

/**
 * A call waiting out its turn's `delay_ms`: the timer's argument, the signal's abort listener
 * (`handleEvent`: rejects with `signal.reason` as soon as it aborts) and what the answer is played
 * from when the time is up. One object per wait: no closure per call. Never leaves a timer or a
 * listener behind.
 */
class Wait {
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  resolve: (response: ModelResponse) => void = noop;
  reject: (reason: unknown) => void = noop;
  constructor(
    readonly model: ScriptedModel,
    readonly request: ModelRequest,
    readonly signal: AbortSignal,
    readonly cursor: Cursor,
    readonly turn: CompiledTurn,
    readonly reply: CompiledReply,
    readonly turnNumber: number,
  ) {}

  handleEvent(): void {
    clearTimeout(this.timer);
    this.signal.removeEventListener("abort", this);
    this.reject(this.signal.reason);
  }
}

const noop = (): void => {};
