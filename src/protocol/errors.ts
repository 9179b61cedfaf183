/**
 * Rein's exceptions. Expected outcomes (a denied call, a stopped run) are values, not exceptions;
 * these are for broken input, broken infrastructure and bugs. Every code is documented in
 * docs/errors.md (a test enforces it), and codes never change meaning once released.
 */
export const ERROR_CODES = [
  "REIN_CONFIG_INVALID",
  "REIN_SCRIPT_NOT_FOUND",
  "REIN_SCRIPT_INVALID",
  "REIN_SCRIPT_EXHAUSTED",
  "REIN_MODEL_UNKNOWN",
  "REIN_MODEL_CALL_FAILED",
  "REIN_MODEL_RESPONSE_INVALID",
  "REIN_MODEL_KEY_MISSING",
  "REIN_MODEL_NOT_CHOSEN",
  "REIN_MODEL_CIRCUIT_OPEN",
  "REIN_PRICE_UNKNOWN",
  "REIN_TOOL_DEFINITION_INVALID",
  "REIN_TOOL_DUPLICATE",
  "REIN_TOOL_BLOCKED",
  "REIN_WORKSPACE_INVALID",
  "REIN_SESSION_BUSY",
  "REIN_SESSION_CLOSED",
  "REIN_INPUT_INVALID",
  "REIN_HOOK_FAILED",
  "REIN_GUARD_FAILED",
  "REIN_LEDGER_FAILED",
  "REIN_SESSION_DUPLICATE",
  "REIN_STREAM_READER",
  "REIN_AUDIT_WRITE_FAILED",
  "REIN_AUDIT_UNREADABLE",
  "REIN_AUDIT_INVALID",
  "REIN_AUDIT_LOCKED",
  "REIN_SANDBOX_FAILED",
  "REIN_EVENT_LOG_REJECTED",
  "REIN_LEDGER_REJECTED",
  "REIN_NODE_VERSION",
  "REIN_POLICY_INVALID",
  "REIN_POLICY_EXAMPLE_FAILED",
  "REIN_REGEX_ENGINE_UNAVAILABLE",
  "REIN_INPUT_TOO_LARGE",
  "REIN_METRICS_SERVER_FAILED",
  "REIN_TELEMETRY_INVALID",
  "REIN_INTERNAL",
  "REIN_EGRESS_DENIED",
  "REIN_EVAL_SUITE_NOT_FOUND",
  "REIN_EVAL_SUITE_INVALID",
  "REIN_EVAL_BASELINE_INVALID",
  "REIN_EVAL_JUDGE_FAILED",
  "REIN_EVAL_RESUME_MISMATCH",
  "REIN_USAGE",
  "REIN_SANDBOX_ENGINE_UNAVAILABLE",
  "REIN_SANDBOX_IMAGE_MISSING",
  "REIN_SANDBOX_RUNTIME_UNAVAILABLE",
  "REIN_SESSION_NOT_FOUND",
  "REIN_SESSION_NOT_RESUMABLE",
  "REIN_SESSION_REQUIRES_ACTION",
  "REIN_APPROVAL_NOT_FOUND",
  "REIN_APPROVAL_CONFLICT",
  "REIN_APPROVAL_EXPIRED",
  "REIN_APPROVAL_ARGS_MISMATCH",
  "REIN_STORE_UNAVAILABLE",
  "REIN_STORE_FAILED",
  "REIN_STORE_SCHEMA_UNSUPPORTED",
  "REIN_SANDBOX_UNSUPPORTED",
  "REIN_STORE_UNREACHABLE",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODES: ReadonlySet<unknown> = new Set(ERROR_CODES);

/** Whether a value is one of Rein's error codes (e.g. the `code` of something a sink threw). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return CODES.has(value);
}

/** Base class of every error Rein throws on purpose. `code` is stable; `message` says what, where and what to do. */
export class ReinError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; name: string; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, name: this.name, message: this.message, details: this.details };
  }
}

/** Invalid configuration: a harness option, a CLI flag or a config file field. */
export class ConfigError extends ReinError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("REIN_CONFIG_INVALID", message, details);
  }
}

/** A problem with a model: unknown id, failed call, malformed response, missing price. */
export class ModelError extends ReinError {}

/** A scripted-model script that cannot be read or played. `file`, `turn` and `field` locate the fault. */
export class ScriptError extends ModelError {
  constructor(
    code: "REIN_SCRIPT_NOT_FOUND" | "REIN_SCRIPT_INVALID" | "REIN_SCRIPT_EXHAUSTED",
    message: string,
    readonly location: { file: string; turn?: number; field?: string; line?: number },
  ) {
    super(code, message, { ...location });
  }
}

/** No price is known for a model and none was configured; cost is never silently $0. */
export class PriceUnknownError extends ModelError {
  constructor(model: string) {
    super(
      "REIN_PRICE_UNKNOWN",
      `No price is known for model "${model}". Add it to the harness option pricing.overrides ` +
        `(USD per million tokens: input, output, cacheRead, cacheWrite), or set pricing.onUnknown to "zero" to accept $0 knowingly.`,
      { model },
    );
  }
}

/** A policy file or policy object that cannot be loaded. `file`, `line` and `rule` locate the fault. */
export class PolicyError extends ReinError {
  constructor(
    code: "REIN_POLICY_INVALID" | "REIN_POLICY_EXAMPLE_FAILED",
    message: string,
    readonly location: { file: string; line?: number; rule?: string },
  ) {
    super(code, message, { ...location });
  }
}

/** A tool definition or registration that cannot be accepted. */
export class ToolDefinitionError extends ReinError {}

/** A session used wrongly: a second concurrent run, a run after close. */
export class SessionError extends ReinError {}

/** The audit trail could not be written or read. */
export class AuditError extends ReinError {}

/** A sandbox could not run a command (as opposed to a command that ran and failed). */
export class SandboxError extends ReinError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super("REIN_SANDBOX_FAILED", message, details, options);
  }
}

/**
 * A sandbox was asked for something its kind cannot do at all, e.g. a shell command (`exec`) in a
 * WebAssembly sandbox, which has no shell: run code with `runCode` instead.
 */
export class SandboxUnsupportedError extends ReinError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("REIN_SANDBOX_UNSUPPORTED", message, details);
  }
}

/** An event log refused an append or a read: a `seq` not after the last, a malformed scope or range. */
export class EventLogError extends ReinError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("REIN_EVENT_LOG_REJECTED", message, details);
  }
}

/** The ledger refused an entry: an unknown or duplicate reservation, a negative or non-finite amount. */
export class LedgerError extends ReinError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("REIN_LEDGER_REJECTED", message, details);
  }
}
/** A durable approval could not be decided: unknown id, a conflicting decision, expired, other arguments. */
export class ApprovalError extends ReinError {}

/** A durable store could not be opened, migrated or written. */
export class StoreError extends ReinError {}

/** Secret redaction or injection defence could not do its job (no regex engine, input over a cap). */
export class SecurityError extends ReinError {}

/**
 * The egress firewall refused a connection: the URL, host, port or one of the addresses it resolved to
 * is not allowed. `details` carries the firewall's decision (`rule`, `reason`, `addresses`).
 */
export class EgressDeniedError extends ReinError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("REIN_EGRESS_DENIED", message, details);
  }
}

/** The message of anything thrown, without trusting its shape. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** An eval suite, baseline, judge or run directory that cannot be used. `file`, `case`, `field` and `line` locate the fault. */
export class EvaluationError extends ReinError {
  constructor(
    code:
      | "REIN_EVAL_SUITE_NOT_FOUND"
      | "REIN_EVAL_SUITE_INVALID"
      | "REIN_EVAL_BASELINE_INVALID"
      | "REIN_EVAL_JUDGE_FAILED"
      | "REIN_EVAL_RESUME_MISMATCH",
    message: string,
    readonly location: { file?: string; case?: string; field?: string; line?: number } = {},
  ) {
    super(code, message, { ...location });
  }
}

/** A command line that does not parse: an unknown command or flag, a flag value of the wrong form (CLI exit 2). */
export class UsageError extends ReinError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("REIN_USAGE", message, details);
  }
}

/**
 * A sandbox backend's infrastructure is not there: no container engine answers
 * (`REIN_SANDBOX_ENGINE_UNAVAILABLE`), the sandbox image is not built (`REIN_SANDBOX_IMAGE_MISSING`),
 * or the engine has no such runtime, or it cannot start on this host (`REIN_SANDBOX_RUNTIME_UNAVAILABLE`).
 */
export class SandboxUnavailableError extends ReinError {
  constructor(
    code:
      | "REIN_SANDBOX_ENGINE_UNAVAILABLE"
      | "REIN_SANDBOX_IMAGE_MISSING"
      | "REIN_SANDBOX_RUNTIME_UNAVAILABLE",
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, details, options);
  }
}
