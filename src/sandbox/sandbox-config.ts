import { z } from "zod";
import { SANDBOX_BACKENDS } from "./create-sandbox.js";

const size = z.union([
  z.int().positive(),
  z.string().regex(/^\s*\d+(\.\d+)?\s*[kmgKMG]?(i?[bB])?\s*$/, "expected a size such as 256m"),
]);

/**
 * The `sandbox:` section of rein.config.yaml: which backend `rein run` uses, and where `run_code`
 * runs each language.
 *
 * @example
 * // rein.config.yaml
 * // sandbox:
 * //   backend: bubblewrap
 * //   code: { python: pyodide, javascript: quickjs }
 * //   pyodide: { poolSize: 2 }
 */
export const SandboxFileSchema = z.strictObject({
  backend: z.enum(SANDBOX_BACKENDS).optional(),
  code: z
    .strictObject({
      python: z.enum(["pyodide", "bubblewrap"]).optional(),
      javascript: z.enum(["quickjs", "bubblewrap"]).optional(),
    })
    .optional(),
  pyodide: z
    .strictObject({ poolSize: z.int().min(0).max(16).optional(), memory: size.optional() })
    .optional(),
  quickjs: z.strictObject({ memory: size.optional() }).optional(),
});

export type SandboxFileConfig = z.infer<typeof SandboxFileSchema>;
