import { existsSync, readFileSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod/v4";
import { ApprovalsFileSchema } from "../approvals/approvals-config.js";
import { GuardsFileSchema, LimitsFileSchema } from "../guards/guards-schema.js";
import { ConfigError, errorMessage } from "../protocol/errors.js";
import { SandboxFileSchema } from "../sandbox/sandbox-config.js";
import type { Tool } from "../tools/tool.js";
import { StoreFileSchema } from "./store-config.js";

/**
 * Names the CLI looks for in the working directory, in order. A `.ts` or `.js` config is a module
 * whose default export is the configuration (`defineConfig({...})`); only a module can hold the
 * user's own tools (`defineTool`). Node 24 runs a `.ts` config as is (it strips the types).
 */
export const CONFIG_FILE_NAMES = [
  "rein.config.ts",
  "rein.config.mts",
  "rein.config.js",
  "rein.config.mjs",
  "rein.config.yaml",
  "rein.config.yml",
] as const;

const isTool = (v: unknown) =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as Tool).name === "string" &&
  typeof (v as Tool).parse === "function" &&
  typeof (v as Tool).execute === "function";

const url = z.url({ protocol: /^https?$/, error: "expected an http(s) URL" });
const ms = z.number().positive().max(2_147_483_647);

const ProvidersSchema = z.strictObject({
  anthropic: z
    .strictObject({
      baseUrl: url.optional(),
      promptCaching: z.boolean().optional(),
      stream: z.boolean().optional(),
    })
    .optional(),
  openai: z
    .strictObject({
      baseUrl: url.optional(),
      api: z.enum(["responses", "chat"]).optional(),
      stream: z.boolean().optional(),
    })
    .optional(),
  "openai-compatible": z
    .strictObject({
      baseUrl: url.optional(),
      apiKeyEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name")
        .optional(),
      stream: z.boolean().optional(),
    })
    .optional(),
});

const GatewaySchema = z.strictObject({
  retry: z
    .strictObject({
      maxRetries: z.int().min(0).max(10),
      baseDelayMs: ms,
      maxDelayMs: ms,
      maxRetryAfterMs: ms,
    })
    .partial()
    .optional(),
  rateLimits: z
    .record(
      z.string().min(1),
      z
        .strictObject({ requestsPerMinute: z.number().positive(), tokensPerMinute: z.number().positive() })
        .partial(),
    )
    .optional(),
  breaker: z.strictObject({ failureThreshold: z.int().positive(), cooldownMs: ms }).partial().optional(),
});

/**
 * The project configuration, `rein.config.yaml`: one typed, zod-validated object that later features
 * extend with their own sections. Every field is optional; what is absent keeps its safe default.
 */
export const ReinConfigSchema = z.strictObject({
  /** Where `rein run` runs run_shell and run_code when `--sandbox` is not given, the container settings, and where `run_code` runs each language. */
  sandbox: SandboxFileSchema.optional(),
  /** The model `rein run` uses when neither `--model` nor `REIN_MODEL` names one. */
  model: z.string().min(1).optional(),
  /** Models to fall back to, in order, when the model is rate limited or down. */
  fallback: z.array(z.string().min(1)).default([]),
  providers: ProvidersSchema.default({}),
  gateway: GatewaySchema.default({}),
  /** The run's limits for `rein run` (flags override them): turns, USD and token ceilings. */
  limits: LimitsFileSchema.optional(),
  /** The built-in guards for `rein run`: budget, stall, circuitBreaker, taint (see docs/guards.md). */
  guards: GuardsFileSchema.optional(),
  /** The directory the agent's file tools work in, relative to the config file (`--workspace` overrides it). */
  workspace: z.string().min(1).optional(),
  /** The system prompt of `rein run` (`--system` overrides it). */
  system: z.string().optional(),
  /** Where `rein run` writes audit trails, relative to the config file, or false for none. */
  audit: z.union([z.literal(false), z.strictObject({ dir: z.string().min(1) })]).optional(),
  /** The user's own tools, made with `defineTool` (a `.ts`/`.js` config only: YAML cannot hold code). */
  tools: z.array(z.custom<Tool>(isTool, "expected a tool made with defineTool (from rein)")).optional(),
  /** Where `rein run` keeps sessions (`--store` overrides it): a SQLite file relative to the config file, or a redis:// URL. */
  store: StoreFileSchema.optional(),
  /** The approval gate of `rein run`: `gate: durable` keeps HIGH calls as pending approvals (`--approvals` overrides it). */
  approvals: ApprovalsFileSchema.optional(),
});

export type ReinConfig = z.infer<typeof ReinConfigSchema>;

/** What a `rein.config.ts` / `.js` exports: every field optional (see `defineConfig`). */
export type ReinConfigInput = z.input<typeof ReinConfigSchema>;

/**
 * Loads any config file: YAML (sync, with line numbers) or a `.ts`/`.js` module (its default export).
 * Errors name the file and the field.
 */
export async function loadConfig(file: string): Promise<ReinConfig> {
  const ext = extname(file);
  if (ext === ".yaml" || ext === ".yml" || ext === ".json") {
    const config = loadConfigFile(file);
    return config;
  }
  if (!existsSync(file))
    throw new ConfigError(`Cannot read the config file ${file}: it does not exist.`, { file });
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Cannot load the config file ${file}: ${errorMessage(err)}`, { file });
  }
  if (mod.default === undefined)
    throw new ConfigError(
      `${file}: export the configuration as the module's default export (export default defineConfig({...})).`,
      { file },
    );
  const parsed = ReinConfigSchema.safeParse(mod.default);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
  throw new ConfigError(
    `${file}: invalid configuration:\n  ${problems.map((p) => `${file}: ${p.field}: ${p.message}`).join("\n  ")}`,
    { file, fields: problems.map((p) => p.field) },
  );
}

/** The config file in `dir`, if there is one. */
export function findConfigFile(dir: string): string | undefined {
  for (const name of CONFIG_FILE_NAMES) {
    const file = resolve(join(dir, name));
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** Reads and validates a config file; an error names the file, the line and the field. */
export function loadConfigFile(file: string): ReinConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`Cannot read the config file ${file}: ${(err as Error).message}`, { file });
  }
  return parseConfig(text, file);
}

/** Validates config text (YAML; JSON is YAML too). `file` only labels the errors. */
export function parseConfig(text: string, file: string): ReinConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax) {
    const line = lines.linePos(syntax.pos[0]).line;
    throw new ConfigError(`${file}:${line}: not valid YAML: ${syntax.message.split("\n")[0]}`, {
      file,
      line,
    });
  }
  const value = doc.toJS() ?? {};
  if (typeof value === "object" && value !== null && "tools" in value) {
    const line = lineOf(doc, lines, ["tools"]);
    throw new ConfigError(
      `${file}:${line}: tools: a YAML config cannot define tools; use rein.config.ts (or .js) and export them made with defineTool.`,
      { file, line, fields: ["tools"] },
    );
  }
  const parsed = ReinConfigSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String);
    const line = lineOf(doc, lines, path);
    return { line, field: path.join(".") || "(root)", message: issue.message };
  });
  throw new ConfigError(
    `${file}: invalid configuration:\n  ${problems.map((p) => `${file}:${p.line}: ${p.field}: ${p.message}`).join("\n  ")}`,
    { file, fields: problems.map((p) => p.field), line: problems[0]?.line },
  );
}

/** The line of the deepest node the path reaches (the field itself, or its parent when it is missing). */
function lineOf(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: string[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return 1;
}
