import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { EventSink } from "../protocol/events.js";

type ExportDone = Parameters<SpanExporter["export"]>[1];

export interface TracingOptions {
  /**
   * Where spans go. Default: OTLP over HTTP, configured by the standard variables
   * (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`,
   * `OTEL_EXPORTER_OTLP_TIMEOUT`, …). Pass an exporter (e.g. the SDK's `InMemorySpanExporter`) instead.
   */
  readonly exporter?: SpanExporter;
  /** The OTLP traces URL, overriding the variables (e.g. `http://127.0.0.1:4318/v1/traces`). */
  readonly url?: string;
  /**
   * Put tool inputs and results on `execute_tool` spans (redacted, truncated). Default: the GenAI
   * convention's `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`, else off.
   */
  readonly recordContent?: boolean;
  /** Longest content attribute in characters (default 4,096). */
  readonly maxContentChars?: number;
  /** `service.name` when `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` do not set it (default `rein`). */
  readonly serviceName?: string;
  /** How long one export may take, retries included (default: `OTEL_EXPORTER_OTLP_TIMEOUT`, else 10 s). */
  readonly exportTimeoutMs?: number;
  /** Export spans one by one as they end instead of in batches (tests, in-memory exporters). */
  readonly simple?: boolean;
}

/** Tracing for a harness: put `sink` in `createHarness({ sinks })`; `shutdown()` before the process exits. */
export interface Tracing {
  readonly sink: EventSink & {
    traceOf(runId: string): { traceId: string; spanId: string } | undefined;
  };
  /** Where spans are exported: the OTLP URL, or the exporter's class name. */
  readonly destination: string;
  /** Spans handed to the exporter, and how many of them it failed to deliver (with the last reason). */
  stats(): { exported: number; failed: number; lastError: string | undefined };
  /** Exports what is buffered. Never rejects: a failure shows in `stats()`. */
  flush(): Promise<void>;
  /**
   * Flushes and stops the exporter. Never rejects. With `timeoutMs`, resolves by then at the latest
   * (an unreachable collector can hold an export for its retries); spans still in flight count as failed.
   */
  shutdown(options?: { timeoutMs?: number }): Promise<void>;
}

/** The OTLP/HTTP traces URL the standard variables configure (what the exporter will use). */
export function otlpTracesUrl(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (own) return own;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return `${base.replace(/\/+$/, "")}/v1/traces`;
  return "http://localhost:4318/v1/traces";
}

/** Whether the `OTEL_*` variables ask for traces (an OTLP endpoint set, the SDK not disabled). */
export function tracingRequestedByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Starts OpenTelemetry tracing with the GenAI semantic conventions (`invoke_agent` per run, `chat` per
 * model call, `execute_tool` per tool call). Loads the SDK and the OTLP exporter only when called, so
 * `import "rein"` stays light. The provider is private to this object (no global registration).
 *
 * @example
 * const tracing = await createTracing(); // OTLP/HTTP per OTEL_EXPORTER_OTLP_ENDPOINT
 * const harness = createHarness({ model: "scripted:demo", sinks: [tracing.sink] });
 * await harness.session().run("hello");
 * await tracing.shutdown();
 */
export async function createTracing(options: TracingOptions = {}): Promise<Tracing> {
  const env = process.env;
  const [sdk, resources, { TraceSink }, { FinishedSpanRecorder }, config] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/resources"),
    import("./trace-sink.js"),
    import("./finished-span.js"),
    import("./trace-config.js"),
  ]);
  const { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } = sdk;
  let inner = options.exporter;
  let destination: string;
  if (inner) destination = inner.constructor?.name || "custom exporter";
  else {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    destination = options.url ?? otlpTracesUrl(env);
    inner = new OTLPTraceExporter({
      ...(options.url ? { url: options.url } : {}),
      ...(options.exportTimeoutMs !== undefined ? { timeoutMillis: options.exportTimeoutMs } : {}),
    });
  }
  const stats = { exported: 0, failed: 0, lastError: undefined as string | undefined };
  let inFlight = 0;
  let gaveUp = false;
  const target = inner;
  // Counts deliveries, so the CLI can say what happened; an export failure never reaches the run.
  const exporter: SpanExporter = {
    export(spans: ReadableSpan[], done: ExportDone) {
      inFlight += spans.length;
      try {
        target.export(spans, (result) => {
          if (gaveUp) return done(result); // already counted as failed at the shutdown deadline
          inFlight -= spans.length;
          if (result.code === 0) stats.exported += spans.length;
          else {
            stats.failed += spans.length;
            stats.lastError = result.error?.message ?? "export failed";
          }
          done(result);
        });
      } catch (err) {
        inFlight -= spans.length;
        stats.failed += spans.length;
        stats.lastError = (err as Error)?.message ?? String(err);
        done({ code: 1, error: err as Error });
      }
    },
    shutdown: () => target.shutdown(),
    forceFlush: () => target.forceFlush?.() ?? Promise.resolve(),
  };
  const resource = resources
    .resourceFromAttributes({ "service.name": options.serviceName ?? "rein" })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const processor = options.simple ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  // The sampler (OTEL_TRACES_SAMPLER; unset, every span is kept) and span limits (OTEL_*_LIMIT) are
  // read once and given both to the SDK's provider, which makes each run's span, and to the recorder
  // that makes the run's chat and execute_tool spans: the two follow the same rules.
  const sampler = config.samplerFromEnv(sdk, env);
  const spanLimits = config.spanLimitsFromEnv(env);
  const idGenerator = new config.PooledIdGenerator();
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [processor],
    sampler,
    spanLimits,
    idGenerator,
  });
  const tracer = provider.getTracer("rein");
  const scope = (tracer as { instrumentationScope?: { name: string } }).instrumentationScope ?? {
    name: "rein",
  };
  const spans = new FinishedSpanRecorder(processor, sampler, idGenerator, spanLimits, resource, scope);
  const recordContent =
    options.recordContent ??
    env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.trim().toLowerCase() === "true";
  const sink = new TraceSink(tracer, spans, {
    recordContent,
    ...(options.maxContentChars !== undefined ? { maxContentChars: options.maxContentChars } : {}),
  });
  let stopped: Promise<void> | undefined;
  return {
    sink,
    destination,
    stats: () => ({ ...stats }),
    flush: () => {
      sink.drain();
      return provider.forceFlush().catch(() => {});
    },
    shutdown: (o = {}) => {
      sink.drain();
      stopped ??= provider.shutdown().catch(() => {});
      if (o.timeoutMs === undefined) return stopped;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          gaveUp = true;
          if (inFlight > 0) {
            stats.failed += inFlight;
            stats.lastError = `not delivered within ${o.timeoutMs} ms (${stats.lastError ?? "no answer"})`;
            inFlight = 0;
          }
          resolve();
        }, o.timeoutMs);
        timer.unref();
      });
      return Promise.race([stopped, late]).finally(() => clearTimeout(timer));
    },
  };
}
