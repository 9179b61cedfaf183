// Traces, metrics and logs from one run: the same events, three readers. Run: node examples/observability.ts
// In production, drop `exporter` and set OTEL_EXPORTER_OTLP_ENDPOINT (a collector or Jaeger, see the README).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { createHarness, scriptedModel } from "rein";
import { createLogger, createMetrics, createTracing, logSink } from "rein/observability";

const workspace = mkdtempSync(join(tmpdir(), "rein-example-"));
writeFileSync(join(workspace, "notes.txt"), "buy milk\n");

const exporter = new InMemorySpanExporter();
const tracing = await createTracing({ exporter });
const metrics = await createMetrics();
const lines: string[] = [];
const logger = await createLogger({ level: "info", destination: { write: (line) => lines.push(line) } });

const harness = createHarness({
  model: scriptedModel({
    name: "notes",
    turns: [
      {
        tool_calls: [{ tool: "read_file", input: { path: "notes.txt" } }],
        usage: { input_tokens: 50, output_tokens: 8 },
      },
      { say: "Your notes say: buy milk.", usage: { input_tokens: 80, output_tokens: 7 } },
    ],
  }),
  workspace,
  audit: false,
  sinks: [tracing.sink, metrics.sink, logSink(logger, { traceOf: (runId) => tracing.sink.traceOf(runId) })],
});
const server = await metrics.serve({ port: 0 }); // Prometheus scrapes server.url

const session = harness.session();
await session.run("What do my notes say?");
await session.close();
await tracing.flush();

const spans = exporter.getFinishedSpans();
const root = spans.find((s) => s.name === "invoke_agent rein")!;
const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
console.log(`trace: ${root.name} > ${children.map((s) => s.name).join(", ")}`);
console.log(
  `chat tokens: ${children.map((s) => s.attributes["gen_ai.usage.input_tokens"] ?? "-").join(", ")}`,
);

const scraped = await (await fetch(server.url)).text();
console.log(scraped.split("\n").find((l) => l.startsWith("rein_tool_calls_total{")));
console.log(
  `log: ${JSON.parse(lines.find((l) => l.includes('"run ended"'))!).msg}, trace ${root.spanContext().traceId === JSON.parse(lines[1]!).traceId ? "linked" : "NOT linked"}`,
);

await server.close();
await tracing.shutdown();
