import { z } from "zod/v4";
import { SANDBOX_BACKENDS } from "./create-sandbox.js";

/**
 * The `sandbox:` section of rein.config.yaml: which backend `rein run` uses when `--sandbox` is not
 * given, and the container settings of the docker and gvisor backends.
 *
 * @example
 * // rein.config.yaml
 * // sandbox:
 * //   backend: gvisor
 * //   docker: { image: "rein-sandbox:1" }
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
});
export type SandboxFileConfig = z.infer<typeof SandboxFileSchema>;
