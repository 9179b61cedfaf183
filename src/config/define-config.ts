import type { ReinConfigInput } from "./config-file.js";

export type { ReinConfigInput } from "./config-file.js";

/**
 * Types a `rein.config.ts` (or `.js`) and returns it unchanged; `rein run` and `rein config check`
 * validate it when they load it (errors name the file and the field).
 *
 * @example
 * // rein.config.ts
 * import { defineConfig, defineTool } from "rein";
 * import { z } from "zod/v4";
 * export default defineConfig({
 *   model: "anthropic:claude-sonnet-4-6",
 *   limits: { maxTurns: 20 },
 *   tools: [defineTool({ name: "now", description: "The time", input: z.object({}), execute: () => Date() })],
 * });
 */
export function defineConfig(config: ReinConfigInput): ReinConfigInput {
  return config;
}
