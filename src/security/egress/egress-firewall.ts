import { isIP } from "node:net";
import { z } from "zod/v4";
import type { EgressPolicy, EgressVerdict } from "../../policy/egress-policy.js";
import { ConfigError, errorMessage } from "../../protocol/errors.js";
import { type AddressClass, addressInCidr, classifyAddress, isCidr } from "./address-classifier.js";
import { type HostResolver, systemResolver } from "./resolver.js";

const SCHEMES = ["http", "https"] as const;
export type EgressScheme = (typeof SCHEMES)[number];
const DEFAULT_PORT: Record<EgressScheme, number> = { http: 80, https: 443 };

/** Options of an `EgressFirewall`. Everything not allowed here is denied. */
export interface EgressFirewallOptions {
  /**
   * Hosts that may be reached: `example.com` (exactly), `*.example.com` (its subdomains, not itself),
   * `example.com:8443` (that port only), an IP literal, or `*` (any host, so only the address checks
   * apply). Default: none, so every URL is denied.
   */
  readonly allow?: readonly string[];
  /** Schemes allowed (default `["https", "http"]`). */
  readonly schemes?: readonly EgressScheme[];
  /** Ports allowed for entries without their own port (default `[80, 443]`). */
  readonly ports?: readonly number[];
  /**
   * Non-public addresses that may still be reached, as IPs or CIDRs (e.g. `["127.0.0.1"]` for a test
   * server of your own). Default none. Link-local (cloud metadata) addresses are refused here.
   */
  readonly allowAddresses?: readonly string[];
  /** How names are resolved (default: the system resolver). */
  readonly resolver?: HostResolver;
  /** Longest a name lookup may take (default 5 s); past it the URL is denied. */
  readonly resolveTimeoutMs?: number;
}

/** The firewall's decision on one URL. `allowed` is true only when every check passed. */
export interface EgressDecision extends EgressVerdict {
  /** The URL as parsed (WHATWG), or the input text when it is not a URL. */
  readonly url: string;
  readonly host?: string;
  readonly port?: number;
  /** Every address the host resolved to (or the literal), with its class. */
  readonly addresses: readonly AddressClass[];
  /** Whether names were resolved; false with `resolve: false` (`--no-resolve`) or a literal IP host. */
  readonly resolved: boolean;
}

// Names that are loopback or cloud metadata on common systems, refused before any lookup.
const LOCAL_NAMES = new Set([
  "localhost",
  "ip6-localhost",
  "ip6-loopback",
  "metadata",
  "metadata.google.internal",
  "metadata.azure.com",
  "instance-data",
  "instance-data.ec2.internal",
  "rancher-metadata",
]);
// Cloud metadata services (AWS, ECS, GCP, Azure, Alibaba, Oracle, AWS over IPv6): never allowed.
const METADATA_IPS = ["169.254.169.254", "169.254.170.2", "100.100.100.200", "192.0.0.192", "fd00:ec2::254"];
// WHATWG URL drops tabs and newlines and reads "\" as "/" in http(s) URLs; curl, Python and others do
// not, so a URL containing them means different hosts to different clients (a parser differential).
const AMBIGUOUS = /[\\\s\p{Cc}]/u;

const Options = z.strictObject({
  allow: z.array(z.string().min(1)).default([]),
  schemes: z.array(z.enum(SCHEMES)).min(1).default(["https", "http"]),
  ports: z.array(z.int().min(1).max(65_535)).default([80, 443]),
  allowAddresses: z.array(z.string()).default([]),
  resolver: z.custom<HostResolver>((v) => typeof v === "function", "expected a function").optional(),
  resolveTimeoutMs: z.int().positive().default(5_000),
});

interface AllowEntry {
  readonly text: string;
  readonly kind: "any" | "exact" | "suffix";
  readonly host: string;
  readonly port?: number;
}

/** Canonical host of a URL or an authority: lower case, IDN as punycode, IPv4 encodings decoded, no trailing dot. */
export function canonicalHost(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");
}

function parseAllowEntry(text: string): AllowEntry {
  const bad = (why: string) =>
    new ConfigError(`egress allow entry ${JSON.stringify(text)}: ${why}.`, { field: "allow", entry: text });
  if (text === "*") return { text, kind: "any", host: "*" };
  const wildcard = text.startsWith("*.");
  const rest = wildcard ? text.slice(2) : text;
  if (rest.includes("*")) throw bad("'*' is allowed only as a whole first label ('*.example.com')");
  if (/[/?#@\\\s]/.test(rest)) throw bad("give a host (and optional :port), not a URL");
  let url: URL;
  try {
    url = new URL(`http://${rest}`);
  } catch {
    throw bad("not a valid host name or IP address");
  }
  const host = canonicalHost(url.hostname);
  if (host === "") throw bad("empty host");
  if (wildcard && isIP(host) !== 0) throw bad("a wildcard cannot precede an IP address");
  const port = url.port === "" ? (/:80$/.test(rest) ? 80 : undefined) : Number(url.port);
  return { text, kind: wildcard ? "suffix" : "exact", host, ...(port !== undefined ? { port } : {}) };
}

function deny(
  url: string,
  rule: string,
  reason: string,
  extra: Partial<EgressDecision> = {},
): EgressDecision {
  return { url, allowed: false, level: "BLOCK", rule, reason, addresses: [], resolved: false, ...extra };
}

/**
 * The egress firewall: a default-deny allowlist of hosts (exact and wildcard), schemes and ports, and
 * address checks on every IP a host resolves to. `check(url)` decides what needs no DNS (it is the
 * `EgressPolicy` the policy engine asks); `decide(url)` also resolves the host and checks every A and
 * AAAA record; `checkAddress` is what connections call on the address they are about to connect to.
 *
 * @example
 * const firewall = new EgressFirewall({ allow: ["api.github.com", "*.pypi.org"] });
 * (await firewall.decide("http://0x7f.1/")).reason; // "127.0.0.1 is loopback (127.0.0.0/8)"
 */
export class EgressFirewall implements EgressPolicy {
  readonly name = "egress-firewall";
  readonly #allow: readonly AllowEntry[];
  readonly #schemes: ReadonlySet<string>;
  readonly #ports: ReadonlySet<number>;
  readonly #allowAddresses: readonly string[];
  readonly #resolver: HostResolver;
  readonly #resolveTimeoutMs: number;

  /** @throws ConfigError naming the option or entry that is invalid. */
  constructor(options: EgressFirewallOptions = {}) {
    const parsed = Options.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ConfigError(`egress firewall option ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
        field: issue.path.join("."),
      });
    }
    const o = parsed.data;
    this.#allow = o.allow.map(parseAllowEntry);
    this.#schemes = new Set(o.schemes);
    this.#ports = new Set(o.ports);
    for (const a of o.allowAddresses) {
      if (!isCidr(a))
        throw new ConfigError(
          `egress allowAddresses entry ${JSON.stringify(a)} is not an IP address or CIDR.`,
          {
            field: "allowAddresses",
            entry: a,
          },
        );
      const base = a.split("/")[0]!;
      if (
        classifyAddress(base)?.range.startsWith("link-local") ||
        METADATA_IPS.some((m) => addressInCidr(m, a))
      )
        throw new ConfigError(
          `egress allowAddresses entry ${a} covers link-local addresses (cloud metadata); they can never be allowed.`,
          { field: "allowAddresses", entry: a },
        );
    }
    this.#allowAddresses = o.allowAddresses;
    this.#resolver = o.resolver ?? systemResolver;
    this.#resolveTimeoutMs = o.resolveTimeoutMs;
  }

  /** The allowlist entries, as given. */
  get allowList(): readonly string[] {
    return this.#allow.map((e) => e.text);
  }

  /** `EgressPolicy`: everything that needs no DNS. A name that passes still has its addresses checked at connect. */
  check(url: URL): EgressVerdict {
    return this.checkStatic(url);
  }

  /**
   * Decides a URL without DNS: its syntax (WHATWG), scheme, userinfo, port, local names, a literal
   * IP's range, the allowlist.
   */
  checkStatic(input: string | URL): EgressDecision {
    const raw = typeof input === "string" ? input : input.href;
    if (typeof input === "string" && AMBIGUOUS.test(input))
      return deny(
        raw,
        "egress:ambiguous-url",
        "the URL contains a backslash, whitespace or a control character, which clients parse differently",
      );
    let url: URL;
    try {
      url = typeof input === "string" ? new URL(input) : input;
    } catch {
      return deny(
        raw,
        "egress:invalid-url",
        `${JSON.stringify(raw.slice(0, 200))} is not a valid absolute URL`,
      );
    }
    const href = url.href;
    const scheme = url.protocol.slice(0, -1);
    if (!this.#schemes.has(scheme))
      return deny(
        href,
        "egress:scheme",
        `scheme ${scheme}: is not allowed (allowed: ${[...this.#schemes].join(", ")})`,
      );
    if (url.username !== "" || url.password !== "")
      return deny(
        href,
        "egress:userinfo",
        "the URL carries user:password@ credentials (a common allowlist bypass)",
      );
    const host = canonicalHost(url.hostname);
    if (host === "") return deny(href, "egress:invalid-url", "the URL has no host");
    const port = url.port === "" ? DEFAULT_PORT[scheme as EgressScheme] : Number(url.port);
    const at = { host, port };
    if (LOCAL_NAMES.has(host) || host.endsWith(".localhost"))
      return deny(href, "egress:local-name", `${host} names this machine or a cloud metadata service`, at);
    let addresses: AddressClass[] = [];
    if (isIP(host) !== 0) {
      const verdict = this.checkAddress(host);
      addresses = [verdict.address];
      if (!verdict.allowed) return deny(href, verdict.rule, verdict.reason, { ...at, addresses });
    }
    const entries = this.#allow.filter((e) => matches(e, host));
    if (entries.length === 0)
      return deny(
        href,
        "egress:not-allowed",
        this.#allow.length === 0
          ? `${host} is not allowed: the allowlist is empty (default deny)`
          : `${host} is not on the allowlist (${this.allowList.join(", ")})`,
        { ...at, addresses },
      );
    const portOk = entries.some((e) => (e.port === undefined ? this.#ports.has(port) : e.port === port));
    if (!portOk)
      return deny(href, "egress:port", `port ${port} is not allowed for ${host}`, { ...at, addresses });
    return {
      url: href,
      allowed: true,
      rule: "egress:allowed",
      reason: `${host}:${port} is allowed by ${entries.map((e) => e.text).join(", ")}`,
      ...at,
      addresses,
      resolved: false,
    };
  }

  /**
   * Decides a URL completely: `checkStatic`, then (unless `resolve: false`) every address the host
   * resolves to. A lookup that fails or times out is a deny.
   */
  async decide(input: string | URL, options: { resolve?: boolean } = {}): Promise<EgressDecision> {
    const first = this.checkStatic(input);
    if (!first.allowed || first.host === undefined || isIP(first.host) !== 0) return first;
    if (options.resolve === false)
      return { ...first, reason: `${first.reason}; addresses not checked (no DNS resolution)` };
    const looked = await this.resolve(first.host);
    if (!looked.ok)
      return deny(first.url, "egress:dns", looked.reason, { host: first.host, port: first.port });
    const checks = looked.addresses.map((a) => this.checkAddress(a));
    const addresses = checks.map((c) => c.address);
    const bad = checks.find((c) => !c.allowed);
    const at = { host: first.host, port: first.port, addresses, resolved: true };
    if (bad) return deny(first.url, bad.rule, `${first.host} resolves to ${bad.reason}`, at);
    return {
      ...first,
      ...at,
      reason: `${first.reason}; resolves to ${addresses.map((a) => a.address).join(", ")}`,
    };
  }

  /** Resolves a name, failing closed: an error, a timeout, no answer or a malformed one is `ok: false`. */
  async resolve(host: string): Promise<{ ok: true; addresses: string[] } | { ok: false; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer: unknown = await Promise.race([
        this.#resolver(host),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#resolveTimeoutMs} ms`)),
            this.#resolveTimeoutMs,
          );
        }),
      ]);
      const list = z.array(z.string()).safeParse(answer);
      if (!list.success) return { ok: false, reason: `the resolver gave a malformed answer for ${host}` };
      if (list.data.length === 0) return { ok: false, reason: `${host} has no A or AAAA record` };
      const notIp = list.data.find((a) => isIP(a) === 0);
      if (notIp !== undefined)
        return {
          ok: false,
          reason: `the resolver answered ${JSON.stringify(notIp)} for ${host}, not an IP address`,
        };
      return { ok: true, addresses: list.data };
    } catch (err) {
      return { ok: false, reason: `could not resolve ${host}: ${errorMessage(err)}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether a connection may go to this exact IP (public, or explicitly allowed by `allowAddresses`). */
  checkAddress(ip: string): { allowed: boolean; address: AddressClass; rule: string; reason: string } {
    const address = classifyAddress(ip) ?? { address: ip, public: false, range: "not an IP address" };
    if (address.public)
      return { allowed: true, address, rule: "egress:address", reason: `${address.address} is public` };
    const optedIn = this.#allowAddresses.some((c) => addressInCidr(address.address, c));
    if (optedIn)
      return {
        allowed: true,
        address,
        rule: "egress:allowed-address",
        reason: `${address.address} (${address.range}) is allowed by allowAddresses`,
      };
    const metadata = METADATA_IPS.includes(address.address) || address.range.includes("169.254.0.0/16");
    return {
      allowed: false,
      address,
      rule: metadata ? "egress:metadata" : "egress:address",
      reason: `${address.address} is ${address.range}`,
    };
  }
}

function matches(e: AllowEntry, host: string): boolean {
  if (e.kind === "any") return true;
  if (e.kind === "exact") return host === e.host;
  return host.endsWith(`.${e.host}`);
}
