import { z } from "zod/v4";

/**
 * The zod schemas of the built-in guards' options, shared by `createHarness` and the config file
 * (`rein.config.yaml`'s `guards:` section). Only plain data here: a clock or your own guard objects
 * are code, given to `createHarness` directly.
 */
const positiveInt = z.int().positive();
const positiveMs = z.number().positive().max(2_147_483_647);

export const CeilingSchema = z
  .strictObject({ maxCostUsd: z.number().positive(), maxTokens: positiveInt })
  .partial();

export const BudgetSchema = z.strictObject({
  run: CeilingSchema.optional(),
  session: CeilingSchema.optional(),
  shared: CeilingSchema.extend({ name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/) }).optional(),
  warnAt: z.array(z.number().gt(0).lt(1)).optional(),
});

export const StallSchema = z.union([
  z.literal(true),
  z
    .strictObject({
      window: z.int().min(2).max(64),
      graceCalls: positiveInt,
      sameErrorWarnAt: z.int().min(2),
      sameErrorStopAt: z.int().min(3),
    })
    .partial(),
]);

const breakerFields = {
  failureThreshold: positiveInt,
  windowMs: positiveMs,
  coolDownMs: positiveMs,
  stopAfterRefusals: positiveInt,
  failureTypes: z.array(z.string().min(1)),
  probeTimeoutMs: positiveMs,
  shared: z.union([z.boolean(), z.array(z.string())]),
  tools: z.record(
    z.string(),
    z.strictObject({ failureThreshold: positiveInt, windowMs: positiveMs, coolDownMs: positiveMs }).partial(),
  ),
};

export const CircuitBreakerSchema = z.union([z.literal(true), z.strictObject(breakerFields).partial()]);

/** The circuit breaker's options in code: the same, plus a clock. */
export const CircuitBreakerCodeSchema = z.union([
  z.literal(true),
  z
    .strictObject({
      ...breakerFields,
      now: z.custom<() => number>((v) => typeof v === "function", "expected a clock function"),
    })
    .partial(),
]);

export const TaintSchema = z.union([
  z.literal(true),
  z
    .strictObject({
      sources: z.union([z.literal("all"), z.array(z.string())]),
      trusted: z.array(z.string()),
      sinks: z.union([z.literal("writes"), z.array(z.string())]),
      exempt: z.array(z.string()),
      flagged: z.boolean(),
    })
    .partial(),
]);

/** `guards:` of the config file. */
export const GuardsFileSchema = z.strictObject({
  budget: BudgetSchema.optional(),
  stall: StallSchema.optional(),
  circuitBreaker: CircuitBreakerSchema.optional(),
  taint: TaintSchema.optional(),
});

/** `limits:` of the config file: the run's ceilings and turns. */
export const LimitsFileSchema = z
  .strictObject({ maxTurns: positiveInt, maxCostUsd: z.number().positive(), maxTokens: positiveInt })
  .partial();
