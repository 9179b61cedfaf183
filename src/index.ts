/**
 * Rein: the controlled runtime between an LLM and real files, shells, networks and money.
 * This file is the whole public API; nothing else is exported by accident.
 */

export type {
  ApprovalDecision,
  ApprovalGate,
  ApprovalRequest,
  ApprovalRequestFields,
  ToolCallShape,
} from "./approvals/approval-gate.js";
export { callbackGate } from "./approvals/callback-gate.js";
export { type DurableGateOptions, durableGate } from "./approvals/durable-gate.js";
export { lineDiff, maskSecrets, type TerminalGateOptions, terminalGate } from "./approvals/terminal-gate.js";
export { defineConfig, type ReinConfigInput } from "./config/define-config.js";
export type { Limits } from "./core/run-context.js";
export { type RunOptions, type RunStream, Session } from "./core/session.js";
export { BudgetGuard, type BudgetOptions, type CeilingOptions } from "./guards/budget-guard.js";
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from "./guards/circuit-breaker.js";
export type {
  Guard,
  GuardAfterVerdict,
  GuardCallOutcome,
  GuardContext,
  GuardEventType,
  GuardResultFlag,
  GuardStopVerdict,
  GuardToolCall,
  GuardVerdict,
} from "./guards/guard.js";
export type {
  AccountUsage,
  BudgetAccount,
  Ceiling,
  Ledger,
  LedgerScope,
  LedgerTotals,
  ReservationRefusal,
  ReserveEntry,
} from "./guards/ledger.js";
export { MemoryLedger, type MemoryLedgerOptions } from "./guards/memory-ledger.js";
export { StallDetector, type StallOptions } from "./guards/stall-detector.js";
export type { GuardsConfig } from "./guards/standard-guards.js";
export { TaintGuard, type TaintOptions } from "./guards/taint-guard.js";
export {
  type BuiltinToolCall,
  createHarness,
  DEFAULT_LIMITS,
  type Harness,
  type HarnessConfig,
  type HarnessToolCall,
  type SessionOptions,
} from "./harness.js";
export type { BreakerChange, BreakerOptions } from "./models/gateway/circuit-breaker.js";
export { type Clock, systemClock } from "./models/gateway/clock.js";
export { type GatewayOptions, GatewayState, gateway, processGatewayState } from "./models/gateway/gateway.js";
export type { RateLimit } from "./models/gateway/rate-limit.js";
export type { RetryOptions } from "./models/gateway/retry.js";
export type {
  AttemptLedger,
  AttemptTicket,
  Model,
  ModelRequest,
  ModelResponse,
  ModelStopReason,
  ToolSpec,
} from "./models/model.js";
export { type Price, PriceBook, type PriceBookOptions } from "./models/pricing.js";
export { ProviderCallError, type ProviderFailure } from "./models/provider-call-error.js";
export { AnthropicModel, type AnthropicModelOptions } from "./models/providers/anthropic/anthropic-model.js";
export { type OpenAIModelOptions, openaiModel } from "./models/providers/openai/openai-model.js";
export {
  type OpenAICompatibleOptions,
  openaiCompatibleModel,
} from "./models/providers/openai-compatible/openai-compatible-model.js";
export { providersWithKeys } from "./models/providers/provider-env.js";
export { ScriptedModel, scriptedModel } from "./models/providers/scripted/scripted-model.js";
export {
  BUNDLED_SCRIPTS,
  bundledScriptPath,
  type GatewaySettings,
  PROVIDERS,
  type ProviderSettings,
  providerModel,
  type ResolveModelOptions,
  resolveModel,
} from "./models/resolve-model.js";
export {
  type EgressPolicy,
  type EgressVerdict,
  nonPublicAddress,
  parseIPv4,
  privateAddressEgress,
} from "./policy/egress-policy.js";
export { decisionOf, type Explanation, explanationJson, type PolicyDecision } from "./policy/explain.js";
export type { OverrideRecord } from "./policy/layered-policy.js";
export type { PathAccess, PathVerdict } from "./policy/path-rules.js";
export type { Policy, PolicyCall } from "./policy/policy.js";
export {
  createPolicyEngine,
  type ExampleResult,
  PolicyEngine,
  type PolicyEngineOptions,
} from "./policy/policy-engine.js";
export {
  loadPolicyFile,
  type PolicyDocument,
  type PolicyDocumentInput,
  type PolicyLayer,
  type PolicyRule,
  parsePolicyText,
  policyLayer,
} from "./policy/policy-file.js";
export {
  SENSITIVE_READ_GLOBS,
  SYSTEM_WRITE_GLOBS,
  sensitiveMaskPatterns,
  sensitivePathGlobs,
} from "./policy/sensitive-paths.js";
export type { CommandVerdict, ShellAnalysis, UrlVerdict } from "./policy/shell-analysis.js";
export {
  loadShellParser,
  type ParsedShell,
  type ShellParser,
  type SimpleCommand,
} from "./policy/shell-parse.js";
export { ToolProfilePolicy } from "./policy/tool-profile-policy.js";
export {
  type AuditedAction,
  autonomousGate,
  autonomyReport,
  parseTrustMode,
  type SemiAutonomousOptions,
  semiAutonomousGate,
  TRUST_MODES,
  type TrustMode,
} from "./policy/trust-mode.js";
export type { AbortCause } from "./protocol/abort.js";
export {
  AuditError,
  ConfigError,
  EgressDeniedError,
  ERROR_CODES,
  type ErrorCode,
  EvaluationError,
  EventLogError,
  LedgerError,
  ModelError,
  PolicyError,
  PriceUnknownError,
  ReinError,
  SandboxError,
  SandboxUnavailableError,
  SandboxUnsupportedError,
  ScriptError,
  SecurityError,
  SessionError,
  ToolDefinitionError,
} from "./protocol/errors.js";
export {
  type AuditTarget,
  type BreakerState,
  EVENT_VERSION,
  type EventDataFilter,
  type EventDataMap,
  type EventEnvelope,
  type EventSink,
  type EventType,
  MODEL_EVENT_TYPES,
  type ModelEvent,
  type ModelEventType,
  type ReinEvent,
  type SandboxStart,
  type StageRecord,
} from "./protocol/events.js";
export type { BeforeToolCallAnswer, Hooks, HookToolCall, HookToolCallFields } from "./protocol/hooks.js";
export type {
  AssistantMessage,
  ContentBlock,
  Message,
  TextBlock,
  ToolResultBlock,
  ToolUseBlock,
  Usage,
  UserMessage,
} from "./protocol/messages.js";
export type { PendingTurn, ResumePlan } from "./protocol/resume.js";
export { RISK_LEVELS, type RiskAssessment, type RiskLevel, type RiskProfile } from "./protocol/risk.js";
export type { RunResult, SessionResult } from "./protocol/run-result.js";
export { type RunStatus, type StopReason, type StopReasonType, statusOf } from "./protocol/stop-reason.js";
export { TOOL_ERROR_TYPES, ToolFailure, type ToolOutcome } from "./protocol/tool-result.js";
export {
  type BubblewrapOptions,
  BubblewrapSandbox,
  DEFAULT_BUBBLEWRAP_LIMITS,
} from "./sandbox/bubblewrap/bubblewrap-sandbox.js";
export { DEFAULT_MASK_PATHS } from "./sandbox/bubblewrap/masks.js";
export {
  type CodeBackends,
  type CreateSandboxOptions,
  createSandbox,
  SANDBOX_BACKENDS,
  type SandboxBackend,
} from "./sandbox/create-sandbox.js";
export {
  CODE_LANGUAGES,
  type CodeLanguage,
  type ExecOptions,
  type ExecResult,
  SANDBOX_LIMITS,
  type Sandbox,
  type SandboxCapabilities,
  type SandboxLimit,
} from "./sandbox/sandbox.js";
export { UnsafeLocalProcess } from "./sandbox/unsafe-local-process.js";
export { WarmPool, type WarmPoolOptions } from "./sandbox/warm-pool.js";
export { EventRedactor } from "./security/event-redactor.js";
export {
  HeuristicInjectionDetector,
  type InjectionDetector,
  type InjectionEvidence,
  type InjectionVerdict,
} from "./security/injection-detector.js";
export { injectionScanProcessor } from "./security/injection-scan-processor.js";
export { type KnownSecret, KnownValues, knownSecretsFromEnv } from "./security/known-values.js";
export { loadRegexEngine, type RegexEngineName } from "./security/linear-regex.js";
export { ModelInjectionDetector } from "./security/model-injection-detector.js";
export { redactingModel } from "./security/redacting-model.js";
export { redactionProcessor } from "./security/redaction-processor.js";
export {
  type RedactionResult,
  type RedactorOptions,
  type SecretFinding,
  SecretRedactor,
} from "./security/redactor.js";
export type { ResultContext, ResultFlag, ResultProcessor } from "./security/result-processor.js";
export { SECRET_RULES, type SecretRule } from "./security/secret-rules.js";
export { Spotlight, spotlightSystemPrompt } from "./security/spotlight.js";
export { StreamRedactor } from "./security/stream-redactor.js";
export type { EventLog, LogScope } from "./state/event-log.js";
export { historyFromEvents } from "./state/history-from-events.js";
export { MemoryEventLog, type MemoryEventLogOptions } from "./state/memory-event-log.js";
export { MemoryStore } from "./state/memory-store.js";
export { RedisStore, type RedisStoreOptions } from "./state/redis-store.js";
export { resumePlan } from "./state/resume-plan.js";
export { SqliteStore, type SqliteStoreOptions } from "./state/sqlite-store.js";
export type {
  ApprovalRecord,
  ApprovalStore,
  ApprovalVerdict,
  OpenReservation,
  SessionIndex,
  SessionRecord,
  Store,
} from "./state/store.js";
export { AUDIT_KEY_ENV, type AuditKey } from "./telemetry/audit-key.js";
export {
  AUDIT_VERSION,
  type AuditAlg,
  type AuditIntentRecord,
  type AuditLine,
  type AuditRecord,
  type AuditRecordV1,
  type AuditSealRecord,
  type AuditToolCallRecord,
  type AuditTruncation,
  GENESIS_HASH,
} from "./telemetry/audit-record.js";
export { DEFAULT_MAX_RECORD_BYTES } from "./telemetry/audit-record-cap.js";
export { AuditTrail, type AuditTrailOptions } from "./telemetry/audit-trail.js";
export {
  type AuditStatus,
  type AuditVerification,
  type VerifyAuditOptions,
  verifyAuditFile,
  verifyAuditText,
} from "./telemetry/audit-verify.js";
export { BUILTIN_TOOL_NAMES, type BuiltinToolName } from "./tools/builtin/names.js";
export { type WorkspaceToolsOptions, workspaceTools } from "./tools/builtin/workspace-tools.js";
export { defineTool, type ToolDefinition } from "./tools/define-tool.js";
export { ToolRegistry } from "./tools/registry.js";
export type { ParseResult, Tool, ToolCallOf, ToolContext, ToolRouter } from "./tools/tool.js";
