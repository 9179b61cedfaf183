import { z } from "zod/v4";
import { EgressDeniedError } from "../../protocol/errors.js";
import { ToolFailure } from "../../protocol/tool-result.js";
import {
  DEFAULT_FETCH_CONTENT_TYPES,
  type EgressFetchResult,
  egressFetch,
} from "../../security/egress/egress-fetch.js";
import { EgressFirewall, type EgressFirewallOptions } from "../../security/egress/egress-firewall.js";
import { defineTool } from "../define-tool.js";
import type { Tool } from "../tool.js";

export interface HttpFetchToolOptions {
  /** The firewall every URL, redirect and connection goes through (or its options). */
  readonly firewall: EgressFirewall | EgressFirewallOptions;
  /** Most body bytes returned (default 256 KiB). */
  readonly maxBytes?: number;
  /** Whole-call time limit including redirects (default 30 s). */
  readonly timeoutMs?: number;
  /** Most redirects followed, each re-checked (default 5). */
  readonly maxRedirects?: number;
  /** Media types returned (default text, JSON, XML, JavaScript). */
  readonly contentTypes?: readonly string[];
}

/** What `http_fetch` returns to the model: the response as data. */
export type HttpFetchResult = EgressFetchResult;

const input = z.object({
  url: z.string().max(4096).describe("Absolute http(s) URL, e.g. https://api.github.com/repos/owner/name"),
  method: z.enum(["GET", "HEAD"]).optional().describe("GET (default) or HEAD"),
});

/**
 * `http_fetch`: GET or HEAD one URL through the egress firewall: default-deny allowlist, every
 * resolved address checked and the connection pinned to it, redirects re-checked hop by hop, proxy
 * variables ignored, the body capped in bytes and time and limited to text-like media types. A
 * refusal is the tool error `egress_denied` with the firewall's rule and reason.
 *
 * @example
 * const tool = httpFetchTool({ firewall: { allow: ["api.github.com"] } });
 */
export function httpFetchTool(options: HttpFetchToolOptions): Tool {
  const firewall =
    options.firewall instanceof EgressFirewall ? options.firewall : new EgressFirewall(options.firewall);
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const allowed = firewall.allowList.length > 0 ? firewall.allowList.join(", ") : "none";
  return defineTool({
    name: "http_fetch",
    description:
      `Fetch a URL (GET or HEAD) and return its status, content type and body as text (at most ${maxBytes} bytes). ` +
      `Only allowed hosts can be reached (${allowed}); media types: ${(options.contentTypes ?? DEFAULT_FETCH_CONTENT_TYPES).join(", ")}.`,
    input,
    // MEDIUM like `curl` in run_shell (shell:network): a network read whose response is untrusted data.
    risk: {
      level: "MEDIUM",
      reason: "fetches a URL through the egress firewall (network read, untrusted response)",
    },
    readOnly: true,
    idempotent: true,
    async execute({ url, method }, { signal }): Promise<HttpFetchResult> {
      try {
        return await egressFetch(firewall, url, {
          method,
          maxBytes,
          timeoutMs: options.timeoutMs,
          maxRedirects: options.maxRedirects,
          contentTypes: options.contentTypes,
          signal,
        });
      } catch (err) {
        if (err instanceof EgressDeniedError)
          throw new ToolFailure("egress_denied", err.message, err.details);
        throw err;
      }
    },
  });
}
