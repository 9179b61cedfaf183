import { z } from "zod/v4";

/**
 * The `approvals` section of `rein.config.*`, for `rein run` (`--approvals` overrides it).
 * `gate: durable` makes each HIGH call a pending approval kept in the store: the run ends
 * `requires_action` (exit code 4), and `rein approve` / `rein deny` decide it from any process.
 *
 * @example
 * // rein.config.yaml
 * // approvals:
 * //   gate: durable
 */
export const ApprovalsFileSchema = z.strictObject({
  /** `terminal` (the default: asks in the terminal) or `durable` (pending approvals in the store). */
  gate: z.enum(["terminal", "durable"], { error: 'expected "terminal" or "durable"' }).optional(),
});

export type ApprovalsFileConfig = z.infer<typeof ApprovalsFileSchema>;
