import { ModelError } from "../../protocol/errors.js";

/** Environment variables, injectable for tests (default `process.env`). */
export type Env = Readonly<Record<string, string | undefined>>;

/** The API key for a provider: the explicit one, else the variable; missing is a clear error now, not at the first call. */
export function requireKey(
  modelId: string,
  explicit: string | undefined,
  variable: string,
  env: Env,
): string {
  const key = explicit ?? env[variable];
  if (key !== undefined && key.trim() !== "") return key;
  throw new ModelError(
    "REIN_MODEL_KEY_MISSING",
    `Model ${modelId} needs an API key: set ${variable} (or pass apiKey to the provider).`,
    { model: modelId, variable },
  );
}

/** Which providers have a key set, for `rein models` and for choosing a model when none was named. */
export function providersWithKeys(env: Env = process.env): ("anthropic" | "openai")[] {
  const out: ("anthropic" | "openai")[] = [];
  if (env.ANTHROPIC_API_KEY?.trim()) out.push("anthropic");
  if (env.OPENAI_API_KEY?.trim()) out.push("openai");
  return out;
}

/** Turns a thrown value into the abort reason when the signal was aborted, so the loop sees its own timeout or cancel. */
export function rethrowIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason;
}
