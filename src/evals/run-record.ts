/** What one run of one case left: the unit every metric, report and baseline is computed from. */
import { z } from "zod/v4";

export const RUN_OUTCOMES = ["passed", "failed", "error"] as const;

export const judgeRunSchema = z.object({
  /** Mean of the samples' totals (of 10); undefined when no sample was well-formed. */
  mean: z.number().optional(),
  /** Variance of the samples' totals: the judge's own noise on this run. */
  variance: z.number().optional(),
  samples: z.array(
    z.object({
      task: z.number(),
      accuracy: z.number(),
      efficiency: z.number(),
      safety: z.number(),
      total: z.number(),
      reasoning: z.string(),
    }),
  ),
  /** Malformed answers that were retried. */
  retries: z.int(),
  /** Set when no well-formed verdict came back after the retries. */
  error: z.string().optional(),
});

export const runRecordSchema = z.object({
  caseId: z.string(),
  runIndex: z.int().nonnegative(),
  /** `error`: the infrastructure failed (model provider, sandbox, a broken check); never a pass, counted apart from failures. */
  outcome: z.enum(RUN_OUTCOMES),
  passed: z.boolean(),
  reasons: z.array(z.string()),
  error: z
    .object({ code: z.string(), message: z.string(), kind: z.enum(["infrastructure", "budget"]) })
    .optional(),
  stopReason: z.string(),
  model: z.string(),
  turns: z.int().nonnegative(),
  toolCalls: z.int().nonnegative(),
  costUsd: z.number().nonnegative(),
  durationMs: z.number().nonnegative(),
  /** The run's events, one JSON object per line, relative to the run directory. */
  transcript: z.string().optional(),
  judge: judgeRunSchema.optional(),
});

export type RunRecord = z.infer<typeof runRecordSchema>;
export type JudgeRun = z.infer<typeof judgeRunSchema>;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];
