/**
 * The eval suite format: the single source for validation (YAML and TypeScript suites alike) and
 * for the types the runner reads. Every object is strict, so a typo is an error, never ignored.
 * docs: README "Evaluations"; errors name the file, line, case and field (load-suite.ts).
 */
import { z } from "zod/v4";
import type { Model } from "../models/model.js";
import type { ReinEvent } from "../protocol/events.js";
import type { Message } from "../protocol/messages.js";

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const positiveInt = z.int().positive();
const positiveMs = z.number().positive().max(2_147_483_647);

const regexString = z.string().refine((s) => {
  try {
    new RegExp(s, "u");
    return true;
  } catch {
    return false;
  }
}, "is not a valid regular expression");

/** What a run gives a model factory (TypeScript suites): seeded, so "random" behaviour replays. */
export interface RunIdentity {
  readonly caseId: string;
  /** 0-based index of the run within its case. */
  readonly runIndex: number;
  /** A 32-bit seed derived from the suite's `seed`, the case id and the run index. */
  readonly seed: number;
}

export type ModelFactory = (run: RunIdentity) => Model | string;

const isModel = (v: unknown) =>
  typeof v === "object" && v !== null && "id" in v && "generate" in v && typeof v.generate === "function";

const modelField = z.union([
  z.string().min(1),
  z.custom<Model>(isModel, "expected a model string, a Model object or a function of the run"),
  z.custom<ModelFactory>((v) => typeof v === "function", "expected a model string, a Model or a function"),
]);

/** Which harness a case runs on; suite-level values are defaults that a case overrides field by field. */
export const harnessSchema = z.strictObject({
  /** `scripted:<file>` (relative to the suite file), `anthropic:…`, `openai:…`; TS suites may give a Model or a factory. */
  model: modelField.optional(),
  trust: z.enum(["supervised", "semi-autonomous", "autonomous", "read-only"]).optional(),
  /** Where run_shell and run_code run; each run gets a fresh sandbox on its fresh workspace. */
  sandbox: z.enum(["none", "bubblewrap"]).optional(),
  /** A policy file (relative to the suite file) layered over the defaults. */
  policy: z.string().min(1).optional(),
  system: z.string().optional(),
  /** Prices (USD per million tokens) for models the price book lacks, or to give a scripted model a cost. */
  price: z
    .strictObject({
      input: z.number().nonnegative(),
      output: z.number().nonnegative(),
      cacheRead: z.number().nonnegative().optional(),
      cacheWrite: z.number().nonnegative().optional(),
    })
    .optional(),
});

const fileCheckSchema = z
  .strictObject({
    path: z.string().min(1),
    /** `false`: the file must not exist. */
    exists: z.boolean().optional(),
    equals: z.string().optional(),
    matches: regexString.optional(),
    /** A value inside the file's JSON: `path` like `$.items[0].name`, compared with `equals` (deep). */
    json: z
      .strictObject({
        path: z.string().regex(/^\$(\.[A-Za-z_$][\w$-]*|\[\d+\])*$/, "use $.key.key[0] syntax"),
        equals: z.json(),
      })
      .optional(),
  })
  .refine(
    (f) =>
      f.exists !== undefined || f.equals !== undefined || f.matches !== undefined || f.json !== undefined,
    "a file check needs at least one of exists, equals, matches, json",
  );

/** A tool call to look for: the tool, and input fields that must be equal (a subset match). */
const callPatternSchema = z.strictObject({
  tool: z.string().min(1),
  input: z.record(z.string(), z.json()).optional(),
});

/** Read access to what a run left behind, for custom checks (TypeScript suites). */
export interface CheckContext {
  readonly caseId: string;
  readonly runIndex: number;
  /** The run's fresh workspace (still present while checks run). */
  readonly workspace: string;
  /** Reads a workspace file as UTF-8; undefined if it does not exist. */
  readFile(path: string): string | undefined;
  /** The run's events (the transcript). */
  readonly events: readonly ReinEvent[];
  readonly messages: readonly Message[];
  readonly finalText: string;
}

export type CheckResult = boolean | { readonly pass: boolean; readonly reason?: string };
export type CustomCheck = (context: CheckContext) => CheckResult | Promise<CheckResult>;

export const expectSchema = z.strictObject({
  files: z.array(fileCheckSchema).optional(),
  tools: z
    .strictObject({
      /** Calls that must be made (each matched by a distinct call). */
      called: z.array(callPatternSchema).optional(),
      /** `true`: the `called` list must appear in this order (other calls may come between). */
      ordered: z.boolean().optional(),
      /** Calls that must never be made (even if refused by the harness). */
      forbidden: z.array(callPatternSchema).optional(),
    })
    .optional(),
  final: z
    .strictObject({
      equals: z.string().optional(),
      contains: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
      matches: regexString.optional(),
    })
    .optional(),
  /** The run must end with this stop reason (default: `completed`). */
  stopReason: z.string().min(1).optional(),
  /** TypeScript suites: a function of the workspace and transcript. */
  custom: z
    .custom<CustomCheck>((v) => typeof v === "function", "expected a function (TypeScript suites only)")
    .optional(),
});

export const caseSchema = z.strictObject({
  id: z.string().regex(ID, "use 1-100 letters, digits, '.', '_' or '-' (it names files)"),
  task: z.string().min(1),
  /** A directory (relative to the suite file) copied into each run's fresh workspace. */
  fixture: z.string().min(1).optional(),
  /** Files written into each run's fresh workspace (after the fixture). */
  files: z.record(z.string().min(1), z.string()).optional(),
  tags: z.array(z.string().min(1)).optional(),
  runs: positiveInt.max(1000).optional(),
  maxTurns: positiveInt.optional(),
  timeoutMs: positiveMs.optional(),
  harness: harnessSchema.optional(),
  expect: expectSchema.default({}),
});

export const judgeSchema = z.strictObject({
  /** The judge's model, configured apart from the agent's. */
  model: modelField,
  /** Judge samples per run, averaged. */
  samples: positiveInt.max(20).default(3),
  /** Extra attempts per sample when the judge's answer is malformed. */
  retries: z.int().min(0).max(5).default(2),
  /** A run passes only if its mean judge score (of 10) reaches this, besides its checks. */
  passAt: z.number().min(0).max(10).optional(),
});

export const suiteSchema = z
  .strictObject({
    name: z.string().regex(ID, "use 1-100 letters, digits, '.', '_' or '-'"),
    description: z.string().optional(),
    /** Runs per case unless a case says otherwise. */
    runs: positiveInt.max(1000).default(5),
    /** Seed of the per-run seeds given to model factories. */
    seed: z.int().default(1),
    harness: harnessSchema.default({}),
    maxTurns: positiveInt.default(20),
    timeoutMs: positiveMs.default(120_000),
    /** A USD ceiling for the whole eval, drawn on by every run through one shared ledger budget. */
    budget: z.strictObject({ maxCostUsd: z.number().positive() }).optional(),
    judge: judgeSchema.optional(),
    cases: z.array(caseSchema).min(1),
  })
  .superRefine((suite, ctx) => {
    const seen = new Map<string, number>();
    suite.cases.forEach((c, i) => {
      const first = seen.get(c.id);
      if (first !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["cases", i, "id"],
          message: `duplicate case id (case ${first + 1} has it too)`,
        });
      else seen.set(c.id, i);
      if (c.harness?.model === undefined && suite.harness.model === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["cases", i, "harness", "model"],
          message: "no model: give harness.model on the suite or the case",
        });
    });
  });

/** A suite as written (TypeScript suites: `defineSuite`'s argument). */
export type SuiteInput = z.input<typeof suiteSchema>;
/** A validated suite, with defaults applied. */
export type SuiteSpec = z.output<typeof suiteSchema>;
export type CaseSpec = z.output<typeof caseSchema>;
export type HarnessSpec = z.output<typeof harnessSchema>;
export type ExpectSpec = z.output<typeof expectSchema>;
export type CallPattern = z.output<typeof callPatternSchema>;
export type JudgeSpec = z.output<typeof judgeSchema>;

/**
 * Declares a TypeScript suite (the default export of a `*.ts` suite file); validated when loaded.
 *
 * @example
 * export default defineSuite({
 *   name: "notes",
 *   harness: { model: "scripted:./agent.yaml", trust: "autonomous" },
 *   cases: [{ id: "read", task: "What do my notes say?", files: { "notes.txt": "milk" }, expect: { final: { contains: "milk" } } }],
 * });
 */
export function defineSuite(suite: SuiteInput): SuiteInput {
  return suite;
}
