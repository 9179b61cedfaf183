import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { addressInCidr, classifyAddress } from "../../../src/security/egress/address-classifier.js";
import { EgressFirewall } from "../../../src/security/egress/egress-firewall.js";

const ipaddr = createRequire(import.meta.url)("ipaddr.js") as typeof import("ipaddr.js");

describe("classifyAddress: every forbidden range", () => {
  const forbidden: [string, RegExp][] = [
    ["0.0.0.0", /this network/],
    ["0.255.1.2", /this network/],
    ["10.1.2.3", /private \(10/],
    ["100.64.0.1", /carrier-grade NAT/],
    ["100.100.100.200", /carrier-grade NAT/],
    ["127.0.0.1", /loopback/],
    ["127.255.255.254", /loopback/],
    ["169.254.169.254", /link-local/],
    ["169.254.170.2", /link-local/],
    ["172.16.0.1", /private \(172/],
    ["172.31.255.255", /private \(172/],
    ["192.0.0.192", /IETF protocol/],
    ["192.0.2.1", /documentation/],
    ["192.88.99.1", /6to4 relay/],
    ["192.168.1.1", /private \(192\.168/],
    ["198.18.0.1", /benchmarking/],
    ["198.51.100.7", /documentation/],
    ["203.0.113.9", /documentation/],
    ["224.0.0.1", /multicast/],
    ["239.255.255.250", /multicast/],
    ["240.0.0.1", /reserved/],
    ["255.255.255.255", /reserved/],
    ["::", /unspecified/],
    ["::1", /loopback/],
    ["::127.0.0.1", /IPv4-compatible/],
    ["::8.8.8.8", /IPv4-compatible/],
    ["::ffff:127.0.0.1", /IPv4-mapped form of 127\.0\.0\.1, loopback/],
    ["::ffff:a9fe:a9fe", /IPv4-mapped form of 169\.254\.169\.254, link-local/],
    ["0:0:0:0:0:ffff:10.0.0.1", /IPv4-mapped form of 10\.0\.0\.1/],
    ["64:ff9b::127.0.0.1", /NAT64 form of 127\.0\.0\.1/],
    ["64:ff9b::a9fe:a9fe", /NAT64 form of 169\.254\.169\.254/],
    ["64:ff9b:1::1", /local-use NAT64/],
    ["2002:7f00:1::", /6to4 form of 127\.0\.0\.1/],
    ["2002:c0a8:101::1", /6to4 form of 192\.168\.1\.1/],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", /Teredo/],
    ["2001:db8::1", /documentation/],
    ["2001:2::1", /IETF protocol/],
    ["3fff::1", /documentation/],
    ["fc00::1", /unique local/],
    ["fd00:ec2::254", /unique local/],
    ["fe80::1", /link-local/],
    ["fec0::1", /site-local/],
    ["ff02::1", /multicast/],
    ["100::1", /discard-only/],
    ["4000::1", /outside 2000::\/3/],
  ];
  for (const [ip, why] of forbidden) {
    it(`refuses ${ip} (${why.source})`, () => {
      const c = classifyAddress(ip);
      expect(c?.public).toBe(false);
      expect(c?.range).toMatch(why);
    });
  }

  const allowed = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "172.15.255.255",
    "172.32.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ];
  for (const ip of allowed) {
    it(`allows the public address ${ip}`, () => {
      expect(classifyAddress(ip)).toMatchObject({ public: true });
    });
  }

  it("takes only canonical literals: names, numeric encodings and zone ids are not addresses (null)", () => {
    for (const text of [
      "localhost",
      "0x7f.1",
      "2130706433",
      "0177.0.0.1",
      "127.1",
      "fe80::1%eth0",
      "[::1]",
      "",
    ])
      expect(classifyAddress(text)).toBeNull();
  });
});

describe("ipaddr.js edge forms (why only canonical text reaches it)", () => {
  it("ipaddr.js itself accepts non-canonical IPv4 (hex, octal, long) that isIP refuses", () => {
    // This is why classifyAddress gates on node's isIP first and hosts go through WHATWG URL parsing:
    // a raw string is never handed to ipaddr.js to interpret its own way.
    expect(ipaddr.IPv4.isValid("0x7f.1")).toBe(true);
    expect(ipaddr.parse("2130706433").toString()).toBe("127.0.0.1");
    expect(ipaddr.parse("0177.0.0.1").toString()).toBe("127.0.0.1");
  });

  it("ipaddr.js reads a dotted IPv4 tail as IPv4-mapped; classifyAddress keeps ::8.8.8.8 IPv4-compatible", () => {
    expect(ipaddr.IPv6.parse("::8.8.8.8").toString()).toBe("::ffff:808:808");
    expect(classifyAddress("::8.8.8.8")).toMatchObject({ address: "::808:808", public: false });
  });

  it("reports IPv4-mapped addresses and converts them, the form classifyAddress judges by its IPv4 part", () => {
    const a = ipaddr.parse("::ffff:7f00:1") as import("ipaddr.js").IPv6;
    expect(a.isIPv4MappedAddress()).toBe(true);
    expect(a.toIPv4Address().toString()).toBe("127.0.0.1");
  });

  it("canonicalises IPv6 to compressed lower case", () => {
    expect(classifyAddress("0000:0000:0000:0000:0000:0000:0000:0001")?.address).toBe("::1");
    expect(classifyAddress("FD00:EC2:0:0:0:0:0:254")?.address).toBe("fd00:ec2::254");
  });

  it("addressInCidr matches within a family only", () => {
    expect(addressInCidr("127.0.0.5", "127.0.0.0/8")).toBe(true);
    expect(addressInCidr("127.0.0.5", "127.0.0.1")).toBe(false);
    expect(addressInCidr("::ffff:127.0.0.1", "127.0.0.0/8")).toBe(false);
    expect(addressInCidr("::1", "::1")).toBe(true);
  });
});

describe("numeric host encodings reach the classifier decoded (WHATWG URL parsing)", () => {
  const firewall = new EgressFirewall({ allow: ["*"] });
  const cases: [string, string][] = [
    ["http://2130706433/", "127.0.0.1"],
    ["http://0x7f000001/", "127.0.0.1"],
    ["http://0x7f.1/", "127.0.0.1"],
    ["http://0177.0.0.1/", "127.0.0.1"],
    ["http://0177.1/", "127.0.0.1"],
    ["http://127.1/", "127.0.0.1"],
    ["http://127.0.1/", "127.0.0.1"],
    ["http://0/", "0.0.0.0"],
    ["http://0xA9.0xFE.0xA9.0xFE/", "169.254.169.254"],
    ["http://0251.0376.0251.0376/", "169.254.169.254"],
    ["http://0251.00376.000251.0000376/", "169.254.169.254"],
    ["http://2852039166/", "169.254.169.254"],
    ["http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"],
    ["http://[0:0:0:0:0:ffff:a9fe:a9fe]/", "::ffff:a9fe:a9fe"],
    ["http://%31%32%37.0.0.1/", "127.0.0.1"],
    ["http://127.0.0.1./", "127.0.0.1"],
    ["http://①②⑦.0.0.1/", "127.0.0.1"],
  ];
  for (const [url, ip] of cases) {
    it(`${url} is ${ip} and refused by its range`, () => {
      const d = firewall.checkStatic(url);
      expect(d.allowed).toBe(false);
      expect(d.addresses.map((a) => a.address)).toEqual([ip]);
      expect(d.rule).toMatch(/^egress:(address|metadata)$/);
    });
  }

  it("IPv4 forms WHATWG rejects (overflowing parts, 64-bit hex) are invalid URLs, refused as such", () => {
    for (const url of ["http://425.510.425.510/", "http://0x41414141A9FEA9FE/", "http://7147006462/"]) {
      expect(firewall.checkStatic(url)).toMatchObject({ allowed: false, rule: "egress:invalid-url" });
    }
  });
});
