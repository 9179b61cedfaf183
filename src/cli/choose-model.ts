import type { ReinConfig } from "../config/config-file.js";
import { ModelError } from "../protocol/errors.js";

/** The model `rein run` picks when only a provider's key is set. */
export const DEFAULT_MODELS = {
  anthropic: "anthropic:claude-sonnet-5-5",
  openai: "openai:gpt-5.4",
} as const;

export interface ModelChoice {
  readonly spec: string;
  /** Where it came from, for the live view and errors. */
  readonly source: string;
}

/**
 * Which model `rein run` uses: `--model`, then `REIN_MODEL`, then `model` in the config file, then the
 * default model of a provider whose key is set (Anthropic first). With none of them it stops with a
 * message naming every option; it never plays the demo script on a real workspace.
 */
export function chooseModel(input: {
  readonly flag: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly config: ReinConfig | undefined;
  readonly configFile: string | undefined;
}): ModelChoice {
  if (input.flag) return { spec: input.flag, source: "--model" };
  const fromEnv = input.env.REIN_MODEL?.trim();
  if (fromEnv) return { spec: fromEnv, source: "REIN_MODEL" };
  if (input.config?.model) return { spec: input.config.model, source: input.configFile ?? "config" };
  if (input.env.ANTHROPIC_API_KEY?.trim())
    return { spec: DEFAULT_MODELS.anthropic, source: "ANTHROPIC_API_KEY is set" };
  if (input.env.OPENAI_API_KEY?.trim())
    return { spec: DEFAULT_MODELS.openai, source: "OPENAI_API_KEY is set" };
  throw new ModelError(
    "REIN_MODEL_NOT_CHOSEN",
    "No model to run. Choose one of:\n" +
      "  --model anthropic:<model> | openai:<model> | openai-compatible:<model> (with --base-url)\n" +
      "  REIN_MODEL=<provider>:<model>\n" +
      "  model: <provider>:<model> in rein.config.yaml\n" +
      "  export ANTHROPIC_API_KEY or OPENAI_API_KEY (Rein then uses that provider's default model)\n" +
      "To try Rein without a key, run `rein demo` (a scripted model in a throwaway workspace).",
    { options: ["--model", "REIN_MODEL", "rein.config.yaml", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"] },
  );
}
