import { z } from "zod/v4";
import { checkRiskProfile } from "../protocol/answers.js";
import { ToolDefinitionError } from "../protocol/errors.js";
import type { RiskProfile } from "../protocol/risk.js";
import { formatIssuePath } from "../protocol/zod-issues.js";
import type { ParseResult, Tool, ToolContext } from "./tool.js";

/** JSON Schema per zod schema: tools rebuilt from the same schema (e.g. per harness) convert it once. */
const schemaCache = new WeakMap<z.ZodType, Readonly<Record<string, unknown>>>();

const TOOL_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

export interface ToolDefinition<S extends z.ZodType, N extends string = string> {
  /** 1–64 characters: letters, digits, `_` and `-`, starting with a letter (what every provider accepts). */
  name: N;
  description: string;
  /** The single source of truth for validation and for the JSON Schema the model sees. */
  input: S;
  risk?: RiskProfile;
  idempotent?: boolean;
  readOnly?: boolean;
  timeoutMs?: number;
  /** USD per call (a paid API), fixed or from the input; drawn from the same ledger and budgets as model calls. */
  costUsd?: number | ((input: z.output<S>) => number);
  execute(input: z.output<S>, context: ToolContext): unknown | Promise<unknown>;
}

/**
 * Defines a tool from a zod schema. The JSON Schema is generated once, here.
 *
 * @example
 * const add = defineTool({
 *   name: "add",
 *   description: "Adds two numbers",
 *   input: z.object({ a: z.number(), b: z.number() }),
 *   risk: { level: "LOW", reason: "pure computation" },
 *   execute: ({ a, b }) => a + b,
 * });
 */
export function defineTool<const N extends string, S extends z.ZodType>(
  definition: ToolDefinition<S, N>,
): Tool<N, z.output<S>> {
  const { name, description, input, execute } = definition;
  if (typeof name !== "string" || !TOOL_NAME.test(name)) {
    throw new ToolDefinitionError(
      "REIN_TOOL_DEFINITION_INVALID",
      `Tool name ${JSON.stringify(name)} is invalid: use 1-64 letters, digits, "_" or "-", starting with a letter.`,
      { name },
    );
  }
  if (typeof description !== "string" || description.trim() === "") {
    throw new ToolDefinitionError(
      "REIN_TOOL_DEFINITION_INVALID",
      `Tool "${name}" needs a non-empty description.`,
      { name },
    );
  }
  if (!isZod4Schema(input)) {
    throw new ToolDefinitionError(
      "REIN_TOOL_DEFINITION_INVALID",
      isZod3Schema(input)
        ? `Tool "${name}": input is a zod 3 schema; Rein reads zod 4 schemas. Import z from "zod/v4" (zod 3.25 and later ship it) or upgrade to zod 4.`
        : `Tool "${name}": input must be a zod schema (import { z } from "zod/v4").`,
      { name },
    );
  }
  if (typeof execute !== "function") {
    throw new ToolDefinitionError(
      "REIN_TOOL_DEFINITION_INVALID",
      `Tool "${name}": execute must be a function.`,
      { name },
    );
  }
  if (
    definition.timeoutMs !== undefined &&
    !(Number.isFinite(definition.timeoutMs) && definition.timeoutMs > 0)
  ) {
    throw new ToolDefinitionError(
      "REIN_TOOL_DEFINITION_INVALID",
      `Tool "${name}": timeoutMs must be a positive number.`,
      {
        name,
      },
    );
  }
  const cost = definition.costUsd;
  if (
    cost !== undefined &&
    typeof cost !== "function" &&
    !(typeof cost === "number" && Number.isFinite(cost) && cost >= 0)
  ) {
    throw new ToolDefinitionError(
      "REIN_TOOL_DEFINITION_INVALID",
      `Tool "${name}": costUsd must be a non-negative number of USD or a function of the input.`,
      { name },
    );
  }
  if (definition.risk !== undefined) {
    const checked = checkRiskProfile(definition.risk);
    if (!checked.ok) {
      throw new ToolDefinitionError(
        "REIN_TOOL_DEFINITION_INVALID",
        `Tool "${name}": invalid risk: ${checked.problem}.`,
        { name },
      );
    }
  }
  const inputSchema = schemaCache.get(input) ?? jsonSchemaOf(name, input);
  schemaCache.set(input, inputSchema);
  if (inputSchema.type !== "object") {
    throw new ToolDefinitionError(
      "REIN_TOOL_DEFINITION_INVALID",
      `Tool "${name}": input must be an object schema (z.object(...)); providers require tool input to be a JSON object.`,
      { name },
    );
  }
  return {
    name,
    description,
    inputSchema,
    risk: definition.risk && Object.freeze({ level: definition.risk.level, reason: definition.risk.reason }),
    idempotent: definition.idempotent ?? false,
    readOnly: definition.readOnly ?? false,
    timeoutMs: definition.timeoutMs,
    ...(cost !== undefined ? { costUsd: cost as number | ((input: unknown) => number) } : {}),
    parse(raw: unknown): ParseResult {
      const result = input.safeParse(raw);
      if (result.success) return { ok: true, value: result.data };
      const issues = result.error.issues.map((issue) => ({
        path: formatIssuePath(issue.path, "(input)"),
        message: issue.message,
      }));
      return { ok: false, message: issues.map((i) => `${i.path}: ${i.message}`).join("; "), issues };
    },
    execute: (value, context) => Promise.resolve(execute(value as z.output<S>, context)),
  };
}

function jsonSchemaOf(name: string, input: z.ZodType): Readonly<Record<string, unknown>> {
  let schema: Record<string, unknown>;
  try {
    schema = z.toJSONSchema(input, { io: "input", unrepresentable: "throw" }) as Record<string, unknown>;
  } catch (err) {
    throw new ToolDefinitionError(
      "REIN_TOOL_DEFINITION_INVALID",
      `Tool "${name}": its input schema cannot be expressed as JSON Schema for the model (${(err as Error).message}).`,
      { name },
    );
  }
  delete schema.$schema;
  return Object.freeze(schema);
}

/**
 * A zod 4 schema, by its `_zod` internals rather than `instanceof`: the app's zod (a peer, `zod` on
 * zod 4 or `zod/v4` on zod 3.25) may be another copy of the package than the one Rein resolves.
 */
function isZod4Schema(value: unknown): value is z.ZodType {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { _zod?: unknown })._zod === "object" &&
    typeof (value as { safeParse?: unknown }).safeParse === "function"
  );
}

/** A zod 3 ("classic" v3) schema: `_def` without `_zod`. */
function isZod3Schema(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    "_def" in value &&
    !("_zod" in value) &&
    typeof (value as { safeParse?: unknown }).safeParse === "function"
  );
}
