import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ModelError } from "../protocol/errors.js";
import type { Model } from "./model.js";
import { scriptedModel } from "./providers/scripted/scripted-model.js";

/** Scripts bundled with Rein, usable as `scripted:<name>`. */
export const BUNDLED_SCRIPTS = ["demo"] as const;

/** The file of a bundled script. */
export function bundledScriptPath(name: string): string {
  return fileURLToPath(new URL(`../../assets/scripts/${name}.yaml`, import.meta.url));
}

/**
 * Turns a model string into a Model. `scripted:<name>` plays a bundled script, `scripted:<path>` a
 * script file. Other providers (`anthropic:`, `openai:`, `openai-compatible:`) arrive with the models issue.
 */
export function resolveModel(spec: string): Model {
  const colon = spec.indexOf(":");
  const provider = colon > 0 ? spec.slice(0, colon) : spec;
  const rest = colon > 0 ? spec.slice(colon + 1) : "";
  if (provider === "scripted") {
    const name = rest || "demo";
    if ((BUNDLED_SCRIPTS as readonly string[]).includes(name)) return scriptedModel(bundledScriptPath(name));
    if (!existsSync(name)) {
      throw new ModelError(
        "REIN_MODEL_UNKNOWN",
        `Model "${spec}": no bundled script named "${name}" (bundled: ${BUNDLED_SCRIPTS.join(", ")}) and no script file at ${name}.`,
        { model: spec },
      );
    }
    return scriptedModel(name);
  }
  throw new ModelError(
    "REIN_MODEL_UNKNOWN",
    `Model "${spec}": provider "${provider}" is not available in this version of Rein (available: scripted). ` +
      `Use "scripted:demo", "scripted:<path to a script>", or pass a Model object to createHarness.`,
    { model: spec, provider },
  );
}
