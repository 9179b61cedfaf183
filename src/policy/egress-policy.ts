import { isIPv4, isIPv6 } from "node:net";
import type { RiskLevel } from "../protocol/risk.js";

/** What an egress policy says about one URL. */
export interface EgressVerdict {
  readonly allowed: boolean;
  /** The level a denied URL gives the call (default BLOCK). Ignored when allowed. */
  readonly level?: Exclude<RiskLevel, "LOW" | "MEDIUM">;
  readonly reason: string;
  readonly rule: string;
}

/**
 * Decides which URLs a tool call may reach. The policy engine asks it about every URL it finds in a
 * call's arguments (a shell command's `curl`/`wget` targets included). The egress firewall implements
 * the same interface; until then `privateAddressEgress` denies private and metadata addresses.
 */
export interface EgressPolicy {
  readonly name: string;
  check(url: URL): EgressVerdict;
}

const METADATA_HOSTS = new Set([
  "169.254.169.254",
  "fd00:ec2::254",
  "100.100.100.200",
  "metadata.google.internal",
  "metadata",
  "metadata.azure.com",
  "instance-data",
]);

/**
 * Parses an IPv4 address the way `inet_aton` (and so curl and most C programs) does: one to four
 * parts, each decimal, octal (`0177`) or hex (`0x7f`); the last part fills the remaining bytes, so
 * `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` are all 127.0.0.1. Null if not an address.
 */
export function parseIPv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length < 1 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : Number.parseInt(p.slice(2), 16);
    else if (/^0[0-7]*$/.test(p)) n = Number.parseInt(p, 8);
    else if (/^[1-9][0-9]*$/.test(p)) n = Number.parseInt(p, 10);
    else return null;
    if (!Number.isFinite(n)) return null;
    nums.push(n);
  }
  const last = nums.pop() as number;
  if (nums.some((n) => n > 255)) return null;
  const restBytes = 4 - nums.length;
  if (last >= 256 ** restBytes) return null;
  const bytes = [...nums];
  for (let i = restBytes - 1; i >= 0; i--) bytes.push(Math.floor(last / 256 ** i) % 256);
  return bytes;
}

/** The 16 bytes of an IPv6 address (with an embedded IPv4 tail), or null. */
export function parseIPv6(text: string): number[] | null {
  let t = text.replace(/^\[|\]$/g, "").split("%")[0] as string;
  if (!isIPv6(t)) return null;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const b = parseIPv4(v4[1] as string);
    if (!b) return null;
    tail = b;
    t = `${t.slice(0, -(v4[1] as string).length)}0:0`;
  }
  const [head, rest] = t.includes("::") ? (t.split("::") as [string, string]) : [t, undefined];
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const fill = rest === undefined ? [] : new Array(8 - h.length - r.length).fill(0);
  const all = [...h, ...fill, ...r];
  if (all.length !== 8) return null;
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** Why an IPv4 address is not public, or null if it is. */
function privateV4(b: readonly number[]): string | null {
  const [a = 0, c = 0] = b;
  if (a === 169 && c === 254) return "link-local (cloud metadata range)";
  if (a === 127) return "loopback";
  if (a === 0) return "'this network'";
  if (a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168)) return "private";
  if (a === 100 && c >= 64 && c <= 127) return "carrier-grade NAT";
  if (a >= 224) return "multicast or reserved";
  return null;
}

/** Why an address (in any spelling) is not public, or null if it is public or not an address. */
export function nonPublicAddress(host: string): string | null {
  const v4 = isIPv4(host) || /^[0-9a-fx.]+$/i.test(host) ? parseIPv4(host) : null;
  if (v4) return privateV4(v4);
  const v6 = parseIPv6(host);
  if (!v6) return null;
  const isZeroPrefix = (n: number) => v6.slice(0, n).every((x) => x === 0);
  if (isZeroPrefix(15) && v6[15] === 1) return "loopback";
  if (isZeroPrefix(16)) return "unspecified";
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d)
  if ((isZeroPrefix(10) && v6[10] === 0xff && v6[11] === 0xff) || isZeroPrefix(12))
    return privateV4(v6.slice(12));
  if (v6[0] === 0x00 && v6[1] === 0x64 && v6[2] === 0xff && v6[3] === 0x9b) return privateV4(v6.slice(12));
  const first = v6[0] as number;
  if ((first & 0xfe) === 0xfc) return "unique local (private)";
  if (first === 0xfe && ((v6[1] as number) & 0xc0) === 0x80) return "link-local";
  if (first === 0xff) return "multicast";
  return null;
}

/**
 * The default egress policy: public addresses are allowed (the sandbox decides whether there is a
 * network at all); cloud metadata endpoints are BLOCK; loopback, private and link-local addresses
 * are HIGH (they need approval). Addresses are parsed in every spelling a client accepts: decimal
 * (`2130706433`), octal (`0177.0.0.1`), hex (`0x7f.1`), short (`127.1`), IPv6 and IPv4-mapped IPv6.
 *
 * @example
 * privateAddressEgress.check(new URL("http://0xa9fea9fe/latest/meta-data/")).allowed; // false
 */
export const privateAddressEgress: EgressPolicy = Object.freeze({
  name: "private-address",
  check(url: URL): EgressVerdict {
    const host = url.hostname
      .replace(/^\[|\]$/g, "")
      .replace(/\.$/, "")
      .toLowerCase();
    const v4 = parseIPv4(host);
    const canonical = v4 ? v4.join(".") : host;
    const v6 = parseIPv6(host);
    const mappedV4 = v6?.slice(0, 10).every((x) => x === 0) ? v6.slice(12).join(".") : null;
    if (METADATA_HOSTS.has(canonical) || (mappedV4 !== null && METADATA_HOSTS.has(mappedV4))) {
      return {
        allowed: false,
        level: "BLOCK",
        reason: `${url.host} is a cloud metadata endpoint (instance credentials)`,
        rule: "egress:metadata",
      };
    }
    if (host === "localhost" || host.endsWith(".localhost")) {
      return {
        allowed: false,
        level: "HIGH",
        reason: `${url.host} is loopback`,
        rule: "egress:private-address",
      };
    }
    const why = nonPublicAddress(host);
    if (why) {
      return {
        allowed: false,
        level: why.startsWith("link-local (cloud") ? "BLOCK" : "HIGH",
        reason: `${url.host} is a ${why} address`,
        rule: why.startsWith("link-local (cloud") ? "egress:metadata" : "egress:private-address",
      };
    }
    return { allowed: true, reason: `${url.host} is a public host`, rule: "egress:public" };
  },
});
