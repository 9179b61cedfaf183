import { z } from "zod/v4";
import { SANDBOX_BACKENDS } from "./create-sandbox.js";

const size = z.union([
  z.int().positive(),
  z.string().regex(/^\s*\d+(\.\d+)?\s*[kmgKMG]?(i?[bB])?\s*$/, "expected a size such as 256m"),
]);

/**
 * The `sandbox:` section of rein.config.yaml: which backend `rein run` uses when `--sandbox` is not
 * given, the container settings of the docker and gvisor backends, and where `run_code` runs each
 * language.
 *
 * @example
 * // rein.config.yaml
 * // sandbox:
 * //   backend: bubblewrap
 * //   docker: { image: "rein-sandbox:1" }
 * //   code: { python: pyodide, javascript: quickjs }
 * //   pyodide: { poolSize: 2 }
 */
export const SandboxFileSchema = z.strictObject({
  backend: z.enum(SANDBOX_BACKENDS).optional(),
  docker: z
    .strictObject({
      image: z.string().min(1),
      runtime: z.string().min(1),
      socketPath: z.string().min(1),
    })
    .partial()
    .optional(),
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
