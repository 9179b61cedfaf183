/**
 * The scripted model's script format: the single source for validation and for the types the
 * model plays. docs/scripted-model.md is the reference for script authors.
 *
 * Every object is strict, so a typo (`tool_call:`) is an error rather than a silently ignored field.
 * No field has a zod default: the parsed script keeps the author's shape, and the model applies
 * the defaults (`input: {}`, usage 0, stop reason from the tool calls) when it plays a turn.
 */
import { z } from "zod/v4";
import type { ModelStopReason } from "../../model.js";

/** The stop reasons a turn may force: exactly `ModelStopReason`, which the compiler checks both ways. */
const STOP_REASONS = {
  end_turn: "end_turn",
  tool_use: "tool_use",
  max_tokens: "max_tokens",
  stop_sequence: "stop_sequence",
  refusal: "refusal",
} as const satisfies { [R in ModelStopReason]: R };

const tokenCount = z.int().nonnegative();

export const scriptUsageSchema = z.strictObject({
  input_tokens: tokenCount.optional(),
  output_tokens: tokenCount.optional(),
  cache_read_tokens: tokenCount.optional(),
  cache_write_tokens: tokenCount.optional(),
});

export const scriptToolCallSchema = z.strictObject({
  /** Sent as is, even if no such tool is registered: scripts may test `unknown_tool` on purpose. */
  tool: z.string().min(1),
  input: z.record(z.string(), z.json()).optional(),
});

/**
 * A test on the previous turn's tool results; every given field must hold. `tool` narrows the
 * other fields to results of calls to that tool, and the condition never holds when no result is left.
 */
export const scriptConditionSchema = z
  .strictObject({
    /** Some result is an error of this type (`"any"`: any error). */
    error: z.string().min(1).optional(),
    /** Every result succeeded. Only `true`: ask for a failure with `error: any`. */
    ok: z.literal(true).optional(),
    /** Only consider results of calls to this tool. */
    tool: z.string().min(1).optional(),
    /** Some result's content contains this text. */
    contains: z.string().min(1).optional(),
  })
  .refine(
    (c) => c.error !== undefined || c.ok !== undefined || c.tool !== undefined || c.contains !== undefined,
    "a condition needs at least one of error, ok, tool, contains",
  );

/** What a turn says and does: the part a `when` branch replaces as a whole. */
const replyFields = {
  say: z.string().optional(),
  tool_calls: z.array(scriptToolCallSchema).optional(),
  usage: scriptUsageSchema.optional(),
  /** Throw `ModelError("REIN_MODEL_CALL_FAILED", fail)` instead of answering. */
  fail: z.string().min(1).optional(),
  stop_reason: z.enum(STOP_REASONS).optional(),
};

export const scriptBranchSchema = z.strictObject({
  if: scriptConditionSchema,
  ...replyFields,
});

export const scriptTurnSchema = z.strictObject({
  ...replyFields,
  /** Play this turn this many times in a row. */
  repeat: z.int().min(1).optional(),
  /** Wait this long before answering; aborting the request cancels the wait. */
  delay_ms: z.int().nonnegative().optional(),
  /** The first branch whose `if` holds replaces say, tool_calls, usage, fail and stop_reason. */
  when: z.array(scriptBranchSchema).min(1).optional(),
});

/**
 * A script: the assistant turns a `ScriptedModel` plays, one per model call.
 *
 * - `name` (optional): the model id becomes `scripted:<name>` (default: the file's base name, or `inline`).
 * - `turns` (at least one), each with optional fields:
 *   - `say`: the turn's text, streamed in word chunks.
 *   - `tool_calls`: `{ tool, input? }` list (`input` any JSON object, default `{}`). Ids are
 *     `toolu_<turn>_<index>`. A turn without tool calls ends the model's turn (`end_turn`), one with them
 *     asks for results (`tool_use`).
 *   - `usage`: `{ input_tokens?, output_tokens?, cache_read_tokens?, cache_write_tokens? }`, each default 0.
 *   - `repeat`: play the turn this many times (integer >= 1).
 *   - `delay_ms`: wait before answering; an aborted request rejects at once with the signal's reason.
 *   - `fail`: throw `ModelError("REIN_MODEL_CALL_FAILED", fail)` instead of answering (uses up the turn).
 *   - `stop_reason`: one of `ModelStopReason`, overriding the default.
 *   - `when`: branches `{ if: condition, say?, tool_calls?, usage?, fail?, stop_reason? }` on the previous
 *     turn's tool results; the first whose condition holds replaces those five fields as a whole.
 *     Conditions: `error: <type>` (or `any`), `ok: true`, `tool: <name>`, `contains: <text>`; all given must
 *     hold, `tool` narrows the others to that tool's results, and no result left means no match.
 *
 * @example
 * ```yaml
 * name: cleanup-demo
 * turns:
 *   - say: "I'll look around first."
 *     tool_calls:
 *       - tool: list_directory
 *         input: { path: "." }
 *     usage: { input_tokens: 1200, output_tokens: 80 }
 *   - say: "Done."
 *     when:
 *       - if: { error: permission_denied }
 *         say: "The harness refused that; I'll stop."
 * ```
 */
export const scriptSchema = z.strictObject({
  /** The model id becomes `scripted:<name>`. */
  name: z.string().min(1).optional(),
  turns: z.array(scriptTurnSchema).min(1),
});

/** A validated script; see {@link scriptSchema} for the format. */
export type Script = z.infer<typeof scriptSchema>;
export type ScriptTurn = z.infer<typeof scriptTurnSchema>;
export type ScriptBranch = z.infer<typeof scriptBranchSchema>;
export type ScriptCondition = z.infer<typeof scriptConditionSchema>;
export type ScriptToolCall = z.infer<typeof scriptToolCallSchema>;
export type ScriptUsage = z.infer<typeof scriptUsageSchema>;
