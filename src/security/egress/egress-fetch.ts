import type { Socket } from "node:net";
import type { Agent } from "undici";
import { EgressDeniedError } from "../../protocol/errors.js";
import { ToolFailure } from "../../protocol/tool-result.js";
import type { EgressFirewall } from "./egress-firewall.js";
import { guardedConnect } from "./guarded-connect.js";

/** Limits of one `egressFetch`. */
export interface EgressFetchOptions {
  readonly method?: "GET" | "HEAD";
  /** Most body bytes kept (default 1 MiB); the rest is not read and `truncated` is true. */
  readonly maxBytes?: number;
  /** Whole-request time limit across redirects (default 30 s). */
  readonly timeoutMs?: number;
  /** Most redirects followed (default 5); each hop is checked like the first URL. */
  readonly maxRedirects?: number;
  /** Media types whose body is returned (default: text, JSON, XML, JavaScript); others are refused. */
  readonly contentTypes?: readonly string[];
  readonly signal?: AbortSignal;
}

export interface EgressFetchResult {
  /** The URL asked for, as parsed. */
  readonly url: string;
  /** The URL of the response returned (after redirects). */
  readonly finalUrl: string;
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly bytes: number;
  readonly truncated: boolean;
  readonly redirects: readonly { readonly url: string; readonly status: number }[];
}

export const DEFAULT_FETCH_CONTENT_TYPES = [
  "text/*",
  "application/json",
  "application/*+json",
  "application/xml",
  "application/*+xml",
  "application/javascript",
] as const;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * An undici dispatcher whose every connection goes through `guardedConnect`: resolved, every address
 * checked, pinned to a checked IP. It never reads HTTP_PROXY/HTTPS_PROXY/NO_PROXY (it is a plain
 * `Agent`, not the environment's proxy agent), so the environment cannot route around the firewall.
 */
export async function egressDispatcher(firewall: EgressFirewall): Promise<Agent> {
  const { Agent } = await import("undici");
  return new Agent({
    connect(opts, callback) {
      const https = opts.protocol === "https:";
      const port = opts.port === "" || opts.port === undefined ? (https ? 443 : 80) : Number(opts.port);
      guardedConnect(firewall, {
        host: opts.hostname.replace(/^\[|\]$/g, ""),
        port,
        ...(https ? { tls: { alpn: ["http/1.1"] } } : {}),
      }).then(
        (socket: Socket) => callback(null, socket),
        (err: Error) => callback(err, null),
      );
    },
  });
}

function mediaType(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

function typeAllowed(type: string, allowed: readonly string[]): boolean {
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    if (p.endsWith("/*")) return type.startsWith(p.slice(0, -1));
    if (p.includes("/*+")) {
      const [main, suffix] = p.split("/*");
      return type.startsWith(`${main}/`) && type.endsWith(suffix!);
    }
    return type === p;
  });
}

function decode(bytes: Uint8Array, contentType: string): string {
  const charset = /charset="?([\w-]+)"?/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? "utf-8").decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes);
  }
}

/**
 * Fetches a URL through the egress firewall: the URL and every redirect target are checked (scheme,
 * userinfo, port, allowlist) and every connection is pinned to a checked address. Redirects are
 * followed by hand, one checked hop at a time. The body is capped in bytes, the whole exchange in
 * time, and only the allowed media types are read.
 *
 * @throws EgressDeniedError when the URL, a redirect or an address is refused; ToolFailure
 * (`content_type_refused`, `too_many_redirects`, `timeout`) for the other refusals.
 * @example
 * const r = await egressFetch(new EgressFirewall({ allow: ["example.com"] }), "https://example.com/");
 */
export async function egressFetch(
  firewall: EgressFirewall,
  url: string,
  options: EgressFetchOptions = {},
): Promise<EgressFetchResult> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRedirects = options.maxRedirects ?? 5;
  const contentTypes = options.contentTypes ?? DEFAULT_FETCH_CONTENT_TYPES;
  let method = options.method ?? "GET";
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const dispatcher = await egressDispatcher(firewall);
  const redirects: { url: string; status: number }[] = [];
  let current = url;
  let first: string | undefined;
  try {
    for (;;) {
      const decision = firewall.checkStatic(current);
      if (!decision.allowed)
        throw new EgressDeniedError(
          `Egress refused${redirects.length > 0 ? ` (redirect ${redirects.length})` : ""}: ${decision.reason}.`,
          { url: decision.url, rule: decision.rule, redirects },
        );
      first ??= decision.url;
      const target = new URL(decision.url);
      const res = await dispatcher.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method,
        headers: { "user-agent": "rein-http-fetch", accept: "*/*" },
        signal,
      });
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode) && typeof location === "string") {
        await discard(res.body);
        redirects.push({ url: decision.url, status: res.statusCode });
        if (redirects.length > maxRedirects)
          throw new ToolFailure("too_many_redirects", `More than ${maxRedirects} redirects, from ${first}.`, {
            redirects,
          });
        if (res.statusCode === 303) method = "GET";
        current = new URL(location, target).href;
        continue;
      }
      const contentType = String(res.headers["content-type"] ?? "");
      const type = mediaType(contentType);
      if (method === "HEAD") {
        await discard(res.body);
        return result(first, decision.url, res.statusCode, contentType, "", 0, false, redirects);
      }
      if (!typeAllowed(type, contentTypes)) {
        await discard(res.body);
        throw new ToolFailure(
          "content_type_refused",
          `${decision.url} answered ${type || "no content type"}; allowed: ${contentTypes.join(", ")}.`,
          { status: res.statusCode, contentType },
        );
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      let truncated = false;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const room = maxBytes - bytes;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          bytes += room;
          truncated = true;
          break;
        }
        chunks.push(chunk);
        bytes += chunk.length;
      }
      if (truncated) await discard(res.body);
      const body = decode(Buffer.concat(chunks), contentType);
      return result(first, decision.url, res.statusCode, contentType, body, bytes, truncated, redirects);
    }
  } catch (err) {
    if (timeout.aborted && !(err instanceof EgressDeniedError) && !(err instanceof ToolFailure))
      throw new ToolFailure("timeout", `${url} did not answer within ${timeoutMs} ms.`, { timeoutMs });
    throw err;
  } finally {
    await dispatcher.destroy().catch(() => {});
  }
}

function result(
  url: string,
  finalUrl: string,
  status: number,
  contentType: string,
  body: string,
  bytes: number,
  truncated: boolean,
  redirects: { url: string; status: number }[],
): EgressFetchResult {
  return { url, finalUrl, status, contentType, body, bytes, truncated, redirects };
}

/** Drops the rest of a body (undici's dump reads a little, then closes; destroy() alone surfaces an abort error). */
async function discard(body: { dump(opts?: { limit?: number }): Promise<void> }): Promise<void> {
  await body.dump({ limit: 64 * 1024 }).catch(() => {});
}
