import { once } from "node:events";
import { chmodSync, existsSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Agent } from "undici";
import { EgressDeniedError, errorMessage, SandboxError } from "../../protocol/errors.js";
import { egressDispatcher } from "./egress-fetch.js";
import type { EgressFirewall } from "./egress-firewall.js";
import { guardedConnect } from "./guarded-connect.js";

/** One request the proxy decided on. */
export interface ProxyDecision {
  readonly method: string;
  /** `host:port` of a CONNECT, the absolute URL of a forwarded request. */
  readonly target: string;
  readonly allowed: boolean;
  readonly rule: string;
  readonly reason: string;
}

export interface EgressProxyOptions {
  readonly firewall: EgressFirewall;
  /** Where the Unix socket is created (its folder should be private to this user). */
  readonly socketPath: string;
  /** Called for every decision, e.g. to audit it. Exceptions in it are ignored. */
  readonly onDecision?: (decision: ProxyDecision) => void;
}

// Headers that belong to one hop (RFC 9110 §7.6.1) or to the proxy, never forwarded.
const HOP_HEADERS = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);
// CONNECT's target is authority-form only: host:port, nothing else (no userinfo, path or spaces).
const AUTHORITY = /^(\[[0-9a-fA-F:.]+\]|[^\s/?#@\\[\]:]+):(\d{1,5})$/;

/**
 * An HTTP forward proxy (absolute-form requests) and CONNECT tunnel proxy on a Unix socket, applying
 * the egress firewall to every request: the target is checked like a URL (allowlist, scheme, port,
 * literal addresses), then connected through `guardedConnect` (every resolved address checked, the
 * socket pinned to one). A refusal is `403` with a JSON body `{ error: "egress_denied", rule, reason }`.
 * Redirects are the client's business: each hop is a new request through the proxy, checked again.
 * The bubblewrap sandbox binds this socket in (`network: { proxySocket }`) as its only way out.
 *
 * @example
 * const proxy = await EgressProxy.listen({ firewall, socketPath: "/run/user/1000/rein/egress.sock" });
 * const sandbox = new BubblewrapSandbox({ network: { proxySocket: proxy.socketPath } });
 */
export class EgressProxy {
  readonly socketPath: string;
  readonly #server: Server;
  readonly #firewall: EgressFirewall;
  readonly #dispatcher: Agent;
  readonly #onDecision: ((d: ProxyDecision) => void) | undefined;
  readonly #sockets = new Set<Duplex>();

  private constructor(options: EgressProxyOptions, dispatcher: Agent) {
    this.socketPath = options.socketPath;
    this.#firewall = options.firewall;
    this.#dispatcher = dispatcher;
    this.#onDecision = options.onDecision;
    this.#server = createServer((req, res) => void this.#forward(req, res));
    this.#server.on(
      "connect",
      (req: IncomingMessage, client: Duplex, head: Buffer) => void this.#tunnel(req, client, head),
    );
    this.#server.on("connection", (s: Duplex) => {
      this.#sockets.add(s);
      s.once("close", () => this.#sockets.delete(s));
    });
  }

  /**
   * Starts a proxy listening on `socketPath` (a stale socket file there is replaced; any other file
   * is an error). The socket is mode 0666 so the sandbox's user can connect through its bind mount;
   * keep it in a folder only you can enter.
   *
   * @throws SandboxError when the socket cannot be created.
   */
  static async listen(options: EgressProxyOptions): Promise<EgressProxy> {
    const { socketPath } = options;
    if (existsSync(socketPath)) {
      if (!lstatSync(socketPath).isSocket())
        throw new SandboxError(
          `${socketPath} exists and is not a socket; the egress proxy will not replace it.`,
          {
            socketPath,
          },
        );
      unlinkSync(socketPath);
    }
    const proxy = new EgressProxy(options, await egressDispatcher(options.firewall));
    try {
      proxy.#server.listen(socketPath);
      await once(proxy.#server, "listening");
      chmodSync(socketPath, 0o666);
    } catch (err) {
      throw new SandboxError(`The egress proxy could not listen on ${socketPath}: ${errorMessage(err)}`, {
        socketPath,
      });
    }
    return proxy;
  }

  /** Stops listening, ends every open tunnel and request, and removes the socket file. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
    await this.#dispatcher.destroy().catch(() => {});
    if (existsSync(this.socketPath)) unlinkSync(this.socketPath);
  }

  #record(d: ProxyDecision): void {
    try {
      this.#onDecision?.(d);
    } catch {
      // An observer must not change what the proxy does.
    }
  }

  async #tunnel(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const target = req.url ?? "";
    client.on("error", () => client.destroy());
    const m = AUTHORITY.exec(target);
    if (!m)
      return this.#refuseTunnel(
        client,
        target,
        "egress:invalid-url",
        `CONNECT target ${JSON.stringify(target.slice(0, 200))} is not host:port`,
      );
    const decision = this.#firewall.checkStatic(`https://${target}/`);
    if (!decision.allowed || decision.host === undefined || decision.port === undefined)
      return this.#refuseTunnel(client, target, decision.rule, decision.reason);
    let upstream: Duplex;
    try {
      // The canonical host the firewall judged (0x7f.1 is 127.0.0.1), never the raw text.
      upstream = await guardedConnect(this.#firewall, { host: decision.host, port: decision.port });
    } catch (err) {
      if (err instanceof EgressDeniedError)
        return this.#refuseTunnel(client, target, String(err.details.rule ?? "egress:address"), err.message);
      this.#record({
        method: "CONNECT",
        target,
        allowed: false,
        rule: "egress:connect-failed",
        reason: errorMessage(err),
      });
      client.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.#record({ method: "CONNECT", target, allowed: true, rule: decision.rule, reason: decision.reason });
    this.#sockets.add(upstream);
    upstream.once("close", () => {
      this.#sockets.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => upstream.destroy());
    client.once("close", () => upstream.destroy());
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  #refuseTunnel(client: Duplex, target: string, rule: string, reason: string): void {
    this.#record({ method: "CONNECT", target, allowed: false, rule, reason });
    const body = JSON.stringify({ error: "egress_denied", rule, reason });
    client.end(
      `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  async #forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? "";
    const method = req.method ?? "GET";
    const refuse = (status: number, rule: string, reason: string): void => {
      this.#record({ method, target, allowed: false, rule, reason });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(status, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify({ error: status === 403 ? "egress_denied" : "bad_gateway", rule, reason }));
    };
    if (!/^https?:\/\//i.test(target))
      return refuse(400, "egress:invalid-url", "a proxy request needs an absolute http(s) URL (or CONNECT)");
    const decision = this.#firewall.checkStatic(target);
    if (!decision.allowed) return refuse(403, decision.rule, decision.reason);
    const url = new URL(decision.url);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined && !HOP_HEADERS.has(k)) headers[k] = v;
    const hasBody =
      req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    try {
      const upstream = await this.#dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: method as "GET",
        headers,
        body: hasBody ? req : undefined,
      });
      this.#record({ method, target, allowed: true, rule: decision.rule, reason: decision.reason });
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upstream.headers))
        if (v !== undefined && !HOP_HEADERS.has(k)) out[k] = v as string | string[];
      res.writeHead(upstream.statusCode, out);
      upstream.body.on("error", () => res.destroy());
      upstream.body.pipe(res);
    } catch (err) {
      if (err instanceof EgressDeniedError)
        return refuse(403, String(err.details.rule ?? "egress:address"), err.message);
      return refuse(502, "egress:connect-failed", errorMessage(err));
    }
  }
}
