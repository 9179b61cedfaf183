import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/protocol/errors.js";
import { EgressFirewall } from "../../../src/security/egress/egress-firewall.js";
import { dnsServerResolver } from "../../../src/security/egress/resolver.js";
import { type DnsFixture, startDnsFixture } from "./dns-fixture.js";

describe("EgressFirewall: allowlist, schemes, ports, default deny", () => {
  const fw = new EgressFirewall({ allow: ["api.example.com", "*.pypi.org", "files.example.net:8443"] });

  it("denies everything by default (no allowlist)", () => {
    const d = new EgressFirewall().checkStatic("https://example.com/");
    expect(d).toMatchObject({ allowed: false, rule: "egress:not-allowed", level: "BLOCK" });
    expect(d.reason).toMatch(/allowlist is empty \(default deny\)/);
  });

  it("allows an exact host on the default ports and nothing else on it", () => {
    expect(fw.checkStatic("https://api.example.com/v1")).toMatchObject({ allowed: true, port: 443 });
    expect(fw.checkStatic("http://api.example.com/")).toMatchObject({ allowed: true, port: 80 });
    expect(fw.checkStatic("https://api.example.com:8080/")).toMatchObject({
      allowed: false,
      rule: "egress:port",
    });
    expect(fw.checkStatic("https://example.com/")).toMatchObject({
      allowed: false,
      rule: "egress:not-allowed",
    });
    expect(fw.checkStatic("https://evil-api.example.com/")).toMatchObject({ allowed: false });
  });

  it("a wildcard allows subdomains only, not the apex or look-alikes", () => {
    expect(fw.checkStatic("https://files.pypi.org/x").allowed).toBe(true);
    expect(fw.checkStatic("https://a.b.pypi.org/x").allowed).toBe(true);
    expect(fw.checkStatic("https://pypi.org/").allowed).toBe(false);
    expect(fw.checkStatic("https://evilpypi.org/").allowed).toBe(false);
    expect(fw.checkStatic("https://pypi.org.evil.com/").allowed).toBe(false);
  });

  it("an entry with a port allows that port only", () => {
    expect(fw.checkStatic("https://files.example.net:8443/").allowed).toBe(true);
    expect(fw.checkStatic("https://files.example.net/")).toMatchObject({
      allowed: false,
      rule: "egress:port",
    });
  });

  it("refuses other schemes, userinfo, and ambiguous text before any lookup", () => {
    for (const url of [
      "ftp://api.example.com/",
      "file:///etc/passwd",
      "gopher://api.example.com:70/",
      "ws://api.example.com/",
    ])
      expect(fw.checkStatic(url)).toMatchObject({ allowed: false, rule: "egress:scheme" });
    expect(fw.checkStatic("https://api.example.com@evil.com/")).toMatchObject({
      allowed: false,
      rule: "egress:userinfo",
    });
    expect(fw.checkStatic("https://user:pw@api.example.com/")).toMatchObject({
      allowed: false,
      rule: "egress:userinfo",
    });
    expect(fw.checkStatic("https://api.example.com\\@evil.com/")).toMatchObject({
      rule: "egress:ambiguous-url",
    });
    expect(fw.checkStatic("https://api.exa\tmple.com/")).toMatchObject({ rule: "egress:ambiguous-url" });
    expect(fw.checkStatic("not a url")).toMatchObject({ rule: "egress:ambiguous-url" });
    expect(fw.checkStatic("/relative")).toMatchObject({ rule: "egress:invalid-url" });
  });

  it("matches hosts after WHATWG normalisation: case, trailing dot, percent-encoding, IDN", () => {
    expect(fw.checkStatic("https://API.Example.COM./").allowed).toBe(true);
    expect(fw.checkStatic("https://api.%65xample.com/").allowed).toBe(true);
    const idn = new EgressFirewall({ allow: ["bücher.example"] });
    expect(idn.checkStatic("https://xn--bcher-kva.example/").allowed).toBe(true);
    expect(idn.checkStatic("https://BÜCHER.example/").allowed).toBe(true);
    // Fullwidth/circled letters fold to ASCII: ⓔⓧⓐⓜⓟⓛⓔ.ⓒⓞⓜ is example.com, not on this list.
    expect(fw.checkStatic("http://ⓔⓧⓐⓜⓟⓛⓔ.ⓒⓞⓜ/")).toMatchObject({ allowed: false, host: "example.com" });
  });

  it("local and metadata names are refused even with '*'", () => {
    const any = new EgressFirewall({ allow: ["*"] });
    for (const host of [
      "localhost",
      "app.localhost",
      "metadata.google.internal",
      "metadata",
      "instance-data",
      "ip6-localhost",
    ])
      expect(any.checkStatic(`http://${host}/`)).toMatchObject({ allowed: false, rule: "egress:local-name" });
  });

  it("a literal private address on the allowlist is still refused unless allowAddresses opts it in", () => {
    const listed = new EgressFirewall({ allow: ["127.0.0.1"] });
    expect(listed.checkStatic("http://127.0.0.1/")).toMatchObject({ allowed: false, rule: "egress:address" });
    const optedIn = new EgressFirewall({ allow: ["127.0.0.1"], allowAddresses: ["127.0.0.1"] });
    expect(optedIn.checkStatic("http://127.0.0.1/")).toMatchObject({ allowed: true });
    expect(optedIn.checkStatic("http://127.0.0.2/")).toMatchObject({
      allowed: false,
      rule: "egress:address",
    });
  });

  it("allowAddresses is empty by default: loopback is refused with '*'", () => {
    const any = new EgressFirewall({ allow: ["*"] });
    expect(any.checkAddress("127.0.0.1")).toMatchObject({ allowed: false, rule: "egress:address" });
    expect(any.checkStatic("http://127.0.0.1:8080/")).toMatchObject({ allowed: false });
  });

  it("metadata addresses are rule egress:metadata and cannot be opted in", () => {
    const any = new EgressFirewall({ allow: ["*"] });
    for (const ip of [
      "169.254.169.254",
      "::ffff:169.254.169.254",
      "100.100.100.200",
      "192.0.0.192",
      "fd00:ec2::254",
    ])
      expect(any.checkAddress(ip)).toMatchObject({ allowed: false, rule: "egress:metadata" });
    for (const bad of ["169.254.169.254", "169.254.0.0/16", "0.0.0.0/0", "fd00::/8", "fe80::1"])
      expect(() => new EgressFirewall({ allowAddresses: [bad] })).toThrow(/can never be allowed/);
  });

  it("invalid options are ConfigErrors naming the entry", () => {
    const cases: [unknown, RegExp][] = [
      [{ allow: ["*.*.com"] }, /'\*' is allowed only as a whole first label/],
      [{ allow: ["https://example.com/"] }, /give a host/],
      [{ allow: ["*.10.0.0.1"] }, /wildcard cannot precede an IP/],
      [{ ports: [0] }, /ports\.0/],
      [{ schemes: ["ftp"] }, /schemes\.0/],
      [{ allowAddresses: ["not-an-ip"] }, /not an IP address or CIDR/],
      [{ nope: 1 }, /option \(root\)|nope/],
    ];
    for (const [options, message] of cases) {
      const err = (() => {
        try {
          new EgressFirewall(options as never);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
    }
  });
});

describe("EgressFirewall.decide: every A/AAAA answer is checked (loopback DNS fixture)", () => {
  let dns: DnsFixture;
  let fw: EgressFirewall;
  beforeAll(async () => {
    dns = await startDnsFixture({
      "public.test": { A: [["93.184.216.34"]], AAAA: [["2606:2800:220:1:248:1893:25c8:1946"]] },
      "private.test": { A: [["10.0.0.7"]] },
      "mixed.test": { A: [["93.184.216.34", "127.0.0.1"]] },
      "metadata.test": { A: [["169.254.169.254"]] },
      "v6loop.test": { AAAA: [["::1"]] },
      "mapped.test": { AAAA: [["::ffff:192.168.0.1"]] },
      "empty.test": {},
    });
    fw = new EgressFirewall({ allow: ["*.test"], resolver: dnsServerResolver([dns.server]) });
  });
  afterAll(() => dns.close());

  it("allows a name whose every address is public, listing them", async () => {
    const d = await fw.decide("https://public.test/");
    expect(d).toMatchObject({ allowed: true, resolved: true });
    expect(d.addresses.map((a) => a.address)).toEqual([
      "93.184.216.34",
      "2606:2800:220:1:248:1893:25c8:1946",
    ]);
  });

  it("refuses names that resolve to private, metadata, IPv6 loopback and mapped-private addresses", async () => {
    expect(await fw.decide("https://private.test/")).toMatchObject({
      allowed: false,
      rule: "egress:address",
    });
    expect(await fw.decide("https://metadata.test/")).toMatchObject({
      allowed: false,
      rule: "egress:metadata",
    });
    expect((await fw.decide("https://v6loop.test/")).reason).toMatch(/resolves to ::1 is loopback/);
    expect((await fw.decide("https://mapped.test/")).reason).toMatch(/IPv4-mapped form of 192\.168\.0\.1/);
  });

  it("one private answer among public ones refuses the whole name", async () => {
    const d = await fw.decide("https://mixed.test/");
    expect(d).toMatchObject({ allowed: false, rule: "egress:address" });
    expect(d.reason).toMatch(/127\.0\.0\.1 is loopback/);
  });

  it("no records, NXDOMAIN, and a resolver that throws or answers garbage are denials (fail closed)", async () => {
    expect(await fw.decide("https://empty.test/")).toMatchObject({ allowed: false, rule: "egress:dns" });
    expect(await fw.decide("https://nxdomain.test/")).toMatchObject({ allowed: false, rule: "egress:dns" });
    const throwing = new EgressFirewall({ allow: ["*"], resolver: () => Promise.reject(new Error("boom")) });
    expect((await throwing.decide("https://x.example/")).reason).toMatch(
      /could not resolve x\.example: boom/,
    );
    const garbage = new EgressFirewall({
      allow: ["*"],
      resolver: (() => Promise.resolve("1.2.3.4")) as never,
    });
    expect((await garbage.decide("https://x.example/")).reason).toMatch(/malformed answer/);
    const notIp = new EgressFirewall({ allow: ["*"], resolver: () => Promise.resolve(["evil.example"]) });
    expect((await notIp.decide("https://x.example/")).reason).toMatch(/not an IP address/);
    const hanging = new EgressFirewall({
      allow: ["*"],
      resolver: () => new Promise(() => {}),
      resolveTimeoutMs: 20,
    });
    expect((await hanging.decide("https://x.example/")).reason).toMatch(/no answer within 20 ms/);
  });

  it("resolve: false decides without DNS and says the addresses were not checked", async () => {
    const before = dns.queries.length;
    const d = await fw.decide("https://private.test/", { resolve: false });
    expect(d).toMatchObject({ allowed: true, resolved: false });
    expect(d.reason).toMatch(/addresses not checked/);
    expect(dns.queries.length).toBe(before);
  });
});

describe("the SSRF corpus (../shared/corpora/ssrf-payloads/urls.txt)", () => {
  const lines = readFileSync(
    resolve(import.meta.dirname, "../../../../shared/corpora/ssrf-payloads/urls.txt"),
    "utf8",
  )
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);

  it("has its 133 payloads", () => {
    expect(lines.length).toBe(133);
  });

  it("an allowlist without those hosts denies every payload, without DNS", async () => {
    const fw = new EgressFirewall({ allow: ["api.github.com", "*.pypi.org"] });
    const allowed: string[] = [];
    for (const url of lines) if ((await fw.decide(url, { resolve: false })).allowed) allowed.push(url);
    expect(allowed).toEqual([]);
    console.log(`ssrf corpus: ${lines.length}/${lines.length} payloads denied by an allowlist`);
  });

  it("with allow '*' (address checks only), every payload that names an address or local name is denied", async () => {
    const fw = new EgressFirewall({ allow: ["*"] });
    const passed: string[] = [];
    for (const url of lines) if ((await fw.decide(url, { resolve: false })).allowed) passed.push(url);
    // What passes without DNS are public names only (redirectors, nip.io, attacker hosts): their
    // addresses are checked at connect time, which the rebinding tests cover.
    for (const url of passed) expect(isIP(new URL(url).hostname.replace(/^\[|\]$/g, ""))).toBe(0);
    expect(passed.length).toBeLessThanOrEqual(9);
    console.log(
      `ssrf corpus with allow '*': ${lines.length - passed.length}/${lines.length} denied without DNS`,
    );
  });
});
