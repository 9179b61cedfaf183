import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface LoopbackServer {
  readonly port: number;
  readonly origin: string;
  /** Requests received: `METHOD url host-header`. */
  readonly hits: string[];
  close(): Promise<void>;
}

/** An HTTP server on `host` (default 127.0.0.1) that records every request it gets. */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = "127.0.0.1",
): Promise<LoopbackServer> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url} ${req.headers.host}`);
    handler(req, res);
  });
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://${host}:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function text(body: string, type = "text/plain; charset=utf-8") {
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { "content-type": type });
    res.end(body);
  };
}
