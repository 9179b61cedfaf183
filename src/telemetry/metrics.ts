import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import { ReinError } from "../protocol/errors.js";
import type { EventSink } from "../protocol/events.js";

export interface MetricsOptions {
  /** Also collect prom-client's Node.js process metrics (CPU, memory, event loop lag) in this registry. */
  readonly processMetrics?: boolean;
}

/** A running `/metrics` server. */
export interface MetricsServer {
  /** `http://host:port/metrics`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Rein's Prometheus metrics, in a registry of their own (never prom-client's global one), so two
 * harnesses in one process do not collide. Put `sink` in `createHarness({ sinks })`.
 */
export interface ReinMetrics {
  readonly sink: EventSink;
  readonly registry: Registry;
  /** The exposition text (what `/metrics` answers). */
  text(): Promise<string>;
  /** A Node `http` request handler answering `GET /metrics` (404 elsewhere); mount it in your own server. */
  metricsHandler(): (req: IncomingMessage, res: ServerResponse) => void;
  /** Serves `/metrics` on `host` (default 127.0.0.1) and `port` (0: any free port). */
  serve(options: { port: number; host?: string }): Promise<MetricsServer>;
}

/**
 * Creates Rein's metrics. Loads prom-client only when called, so `import "rein"` stays light.
 *
 * @example
 * const metrics = await createMetrics();
 * const harness = createHarness({ model: "scripted:demo", sinks: [metrics.sink] });
 * const server = await metrics.serve({ port: 9464 }); // Prometheus scrapes server.url
 */
export async function createMetrics(options: MetricsOptions = {}): Promise<ReinMetrics> {
  const [client, { MetricsSink }] = await Promise.all([import("prom-client"), import("./metrics-sink.js")]);
  const registry = new client.Registry();
  if (options.processMetrics) client.collectDefaultMetrics({ register: registry });
  const sink = new MetricsSink(client, registry);
  const handler = metricsHandler(registry);
  return {
    sink,
    registry,
    text: () => registry.metrics(),
    metricsHandler: () => handler,
    serve: (o) => serveMetrics(handler, o),
  };
}

/**
 * A Node `http` handler that serves a prom-client registry's metrics at `GET /metrics`.
 *
 * @example
 * http.createServer(metricsHandler((await createMetrics()).registry)).listen(9464);
 */
export function metricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: try GET /metrics\n");
      return;
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { "content-type": registry.contentType });
        res.end(req.method === "HEAD" ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${String(err)}\n`);
      },
    );
  };
}

/** Listens with `handler`; a port in use (or any listen failure) is a `REIN_METRICS_SERVER_FAILED` that says so. */
export async function serveMetrics(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: { port: number; host?: string },
): Promise<MetricsServer> {
  const { port } = options;
  const host = options.host ?? "127.0.0.1";
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ReinError(
      "REIN_TELEMETRY_INVALID",
      `metrics port must be an integer from 0 to 65535, got ${port}.`,
      {
        field: "port",
      },
    );
  const { createServer } = await import("node:http");
  const server: Server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why =
        err.code === "EADDRINUSE"
          ? "the port is already in use by another process"
          : err.code === "EACCES"
            ? "permission denied (a port below 1024 needs privileges)"
            : err.code === "EADDRNOTAVAIL"
              ? "the address is not on this host"
              : err.message;
      reject(
        new ReinError(
          "REIN_METRICS_SERVER_FAILED",
          `Cannot serve metrics on ${host}:${port}: ${why}. Choose another port (0 picks a free one).`,
          { port, host, errno: err.code },
        ),
      );
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/metrics`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
