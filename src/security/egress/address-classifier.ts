import { createRequire } from "node:module";
import { isIP } from "node:net";
import type * as IpAddr from "ipaddr.js";

/**
 * Which IP addresses a sandboxed agent may never reach. Every address the egress firewall meets (a
 * literal host, each DNS answer, the peer address of each connected socket) goes through
 * `classifyAddress`; anything but a public unicast address is refused with the range's name.
 */

type Range = readonly [cidr: string, name: string];

// IANA special-purpose registries (RFC 6890 and updates), plus the cloud metadata addresses.
const V4_RANGES: readonly Range[] = [
  ["0.0.0.0/8", "'this network' (0.0.0.0/8)"],
  ["10.0.0.0/8", "private (10.0.0.0/8)"],
  ["100.64.0.0/10", "carrier-grade NAT (100.64.0.0/10; 100.100.100.200 is Alibaba's metadata)"],
  ["127.0.0.0/8", "loopback (127.0.0.0/8)"],
  ["169.254.0.0/16", "link-local (169.254.0.0/16, cloud metadata 169.254.169.254)"],
  ["172.16.0.0/12", "private (172.16.0.0/12)"],
  ["192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24; 192.0.0.192 is Oracle's metadata)"],
  ["192.0.2.0/24", "documentation (192.0.2.0/24)"],
  ["192.88.99.0/24", "6to4 relay anycast (192.88.99.0/24)"],
  ["192.168.0.0/16", "private (192.168.0.0/16)"],
  ["198.18.0.0/15", "benchmarking (198.18.0.0/15)"],
  ["198.51.100.0/24", "documentation (198.51.100.0/24)"],
  ["203.0.113.0/24", "documentation (203.0.113.0/24)"],
  ["224.0.0.0/4", "multicast (224.0.0.0/4)"],
  ["240.0.0.0/4", "reserved (240.0.0.0/4, broadcast 255.255.255.255)"],
];

// Checked only after the embedded-IPv4 forms; everything outside 2000::/3 is refused as well.
const V6_RANGES: readonly Range[] = [
  ["::/128", "unspecified (::)"],
  ["::1/128", "loopback (::1)"],
  ["::/96", "IPv4-compatible (::/96, deprecated)"],
  ["64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"],
  ["100::/64", "discard-only (100::/64)"],
  ["2001::/32", "Teredo tunnel (2001::/32)"],
  ["2001::/23", "IETF protocol assignments (2001::/23)"],
  ["2001:db8::/32", "documentation (2001:db8::/32)"],
  ["3fff::/20", "documentation (3fff::/20)"],
  ["fc00::/7", "unique local (fc00::/7; fd00:ec2::254 is AWS's metadata)"],
  ["fe80::/10", "link-local (fe80::/10)"],
  ["fec0::/10", "site-local (fec0::/10, deprecated)"],
  ["ff00::/8", "multicast (ff00::/8)"],
];

type Parsed = { v4: [IpAddr.IPv4, number][]; v6: [IpAddr.IPv6, number][]; global: [IpAddr.IPv6, number] };
let lib: typeof IpAddr | undefined;
let parsed: Parsed | undefined;

/** ipaddr.js, loaded on first use so that `import "rein"` stays light. */
function ipaddr(): typeof IpAddr {
  lib ??= createRequire(import.meta.url)("ipaddr.js") as typeof IpAddr;
  return lib;
}

function ranges(): Parsed {
  if (parsed) return parsed;
  const ip = ipaddr();
  parsed = {
    v4: V4_RANGES.map(([c]) => ip.IPv4.parseCIDR(c)),
    v6: V6_RANGES.map(([c]) => ip.IPv6.parseCIDR(c)),
    global: ip.IPv6.parseCIDR("2000::/3"),
  };
  return parsed;
}

/** The verdict on one IP address. */
export interface AddressClass {
  /** The address in canonical form (IPv4 dotted decimal, IPv6 compressed lower case). */
  readonly address: string;
  readonly public: boolean;
  /** The special-purpose range it falls in; "public unicast" when public. */
  readonly range: string;
}

function classifyV4(addr: IpAddr.IPv4, via?: string): AddressClass {
  const r = ranges();
  const address = addr.toString();
  for (let i = 0; i < V4_RANGES.length; i++) {
    if (addr.match(r.v4[i]!)) {
      const name = V4_RANGES[i]![1];
      return { address, public: false, range: via ? `${via} of ${address}, ${name}` : name };
    }
  }
  return { address, public: true, range: via ? `${via} of public ${address}` : "public unicast" };
}

/**
 * Classifies an IP address. Only canonical literals are accepted (what `new URL()` and the resolver
 * produce): a name, a numeric encoding such as `0x7f.1`, or a zone id is `null`, never guessed at.
 * IPv4 inside IPv6 (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged by its
 * IPv4 part; IPv4-compatible, Teredo and everything outside 2000::/3 are refused.
 *
 * @example
 * classifyAddress("::ffff:169.254.169.254")?.public; // false
 */
export function classifyAddress(text: string): AddressClass | null {
  const family = isIP(text);
  if (family === 0) return null;
  const ip = ipaddr();
  if (family === 4) {
    // isIP accepts only four decimal parts; ipaddr.js would also take "0x7f.1" or "2130706433".
    return classifyV4(ip.IPv4.parse(text));
  }
  // ipaddr.js reads a dotted tail as IPv4-mapped ("::8.8.8.8" becomes ::ffff:808:808, tested), so
  // the WHATWG serialiser (all hex, compressed) rewrites the text first; it also refuses zone ids.
  let hex: string;
  try {
    hex = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const v6 = ip.IPv6.parse(hex);
  const address = v6.toString();
  if (v6.isIPv4MappedAddress()) return { ...classifyV4(v6.toIPv4Address(), "IPv4-mapped form"), address };
  const bytes = v6.toByteArray();
  if (v6.match(ip.IPv6.parseCIDR("64:ff9b::/96")))
    return { ...classifyV4(new ip.IPv4(bytes.slice(12)), "NAT64 form"), address };
  if (v6.match(ip.IPv6.parseCIDR("2002::/16")))
    return { ...classifyV4(new ip.IPv4(bytes.slice(2, 6)), "6to4 form"), address };
  const r = ranges();
  for (let i = 0; i < V6_RANGES.length; i++) {
    if (v6.match(r.v6[i]!)) return { address, public: false, range: V6_RANGES[i]![1] };
  }
  if (!v6.match(r.global)) return { address, public: false, range: "not global unicast (outside 2000::/3)" };
  return { address, public: true, range: "public unicast" };
}

/** Whether `address` (canonical IP text) falls in `cidr` (`127.0.0.1`, `127.0.0.0/8`, `::1/128`). */
export function addressInCidr(address: string, cidr: string): boolean {
  const ip = ipaddr();
  const family = isIP(address);
  if (family === 0) return false;
  const [base, bits] = cidr.includes("/")
    ? ip.parseCIDR(cidr)
    : [ip.parse(cidr), isIP(cidr) === 4 ? 32 : 128];
  const addr = ip.parse(address);
  return addr.kind() === base.kind() && addr.match(base, bits);
}

/** Whether `text` is a CIDR or a plain IP literal ipaddr.js accepts in canonical form. */
export function isCidr(text: string): boolean {
  if (isIP(text) !== 0) return true;
  const [addr, bits] = text.split("/");
  return addr !== undefined && bits !== undefined && isIP(addr) !== 0 && ipaddr().isValidCIDR(text);
}
