import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DnsFixture, startDnsFixture } from "../security/egress/dns-fixture.js";

const BIN = resolve(import.meta.dirname, "../../bin/rein.js");

/** Spawns the CLI without blocking this process (the in-test DNS server must keep answering). */
function rein(args: string[], stdin = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe("rein net check", () => {
  let dns: DnsFixture;
  beforeAll(async () => {
    dns = await startDnsFixture({
      "good.test": { A: [["93.184.216.34"]] },
      "evil.test": { A: [["93.184.216.34", "10.1.2.3"]] },
      "meta.test": { AAAA: [["::ffff:169.254.169.254"]] },
    });
  });
  afterAll(() => dns.close());

  it("prints an allowed verdict with the resolved addresses (exit 0)", async () => {
    const r = await rein([
      "net",
      "check",
      "https://good.test/x",
      "--allow",
      "*.test",
      "--dns-server",
      dns.server,
    ]);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v).toMatchObject({
      allowed: true,
      rule: "egress:allowed",
      host: "good.test",
      port: 443,
      resolved: true,
    });
    expect(v.addresses).toEqual([{ address: "93.184.216.34", public: true, range: "public unicast" }]);
  });

  it("denies a name with a private or metadata answer, naming the address and range (exit 1)", async () => {
    const evil = await rein([
      "net",
      "check",
      "https://evil.test/",
      "--allow",
      "*.test",
      "--dns-server",
      dns.server,
    ]);
    expect(evil.code).toBe(1);
    expect(JSON.parse(evil.stdout)).toMatchObject({
      allowed: false,
      rule: "egress:address",
      reason: "evil.test resolves to 10.1.2.3 is private (10.0.0.0/8)",
    });
    const meta = await rein([
      "net",
      "check",
      "http://meta.test/",
      "--allow",
      "*.test",
      "--dns-server",
      dns.server,
    ]);
    expect(JSON.parse(meta.stdout)).toMatchObject({ allowed: false, rule: "egress:metadata" });
  });

  it("--no-resolve decides offline: no DNS query is made, literal encodings are still judged", async () => {
    const before = dns.queries.length;
    const r = await rein([
      "net",
      "check",
      "https://evil.test/",
      "--allow",
      "*.test",
      "--no-resolve",
      "--dns-server",
      dns.server,
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ allowed: true, resolved: false });
    expect(dns.queries.length).toBe(before);
    const hex = await rein(["net", "check", "http://0xa9fea9fe/", "--allow", "*", "--no-resolve"]);
    expect(JSON.parse(hex.stdout)).toMatchObject({
      allowed: false,
      rule: "egress:metadata",
      host: "169.254.169.254",
    });
  });

  it("default deny: without --allow nothing is allowed", async () => {
    const r = await rein(["net", "check", "https://example.com/", "--no-resolve"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).reason).toMatch(/allowlist is empty \(default deny\)/);
  });

  it("--allow-address is the explicit opt-in for a local test server; off, loopback is denied", async () => {
    const off = await rein([
      "net",
      "check",
      "http://127.0.0.1:8080/",
      "--allow",
      "127.0.0.1:8080",
      "--no-resolve",
    ]);
    expect(JSON.parse(off.stdout)).toMatchObject({ allowed: false, rule: "egress:address" });
    const on = await rein([
      "net",
      "check",
      "http://127.0.0.1:8080/",
      "--allow",
      "127.0.0.1:8080",
      "--allow-address",
      "127.0.0.1",
      "--no-resolve",
    ]);
    expect(JSON.parse(on.stdout)).toMatchObject({ allowed: true });
  });

  it("--jsonl reads one URL per line and prints one verdict per line (exit 1 if any is denied)", async () => {
    const input = "https://api.github.com/\nhttp://2130706433/\nnot a url\n\nftp://api.github.com/\n";
    const r = await rein(["net", "check", "--jsonl", "--allow", "api.github.com", "--no-resolve"], input);
    expect(r.code).toBe(1);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.allowed, l.rule])).toEqual([
      [true, "egress:allowed"],
      [false, "egress:address"],
      [false, "egress:ambiguous-url"],
      [false, "egress:scheme"],
    ]);
  });

  it("a bad URL is a denial with its reason, not a crash (exit 1)", async () => {
    const r = await rein(["net", "check", "http//missing-colon", "--allow", "*", "--no-resolve"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ allowed: false, rule: "egress:invalid-url" });
  });

  it("bad flags and bad entries are errors on stderr with a code (exit 2), or commander's usage error", async () => {
    const entry = await rein(["net", "check", "https://x.test/", "--allow", "*.*"]);
    expect(entry.code).toBe(2);
    expect(entry.stderr).toMatch(/egress allow entry "\*\.\*"/);
    expect(entry.stderr).toMatch(/REIN_CONFIG_INVALID/);
    const port = await rein(["net", "check", "https://x.test/", "--allow", "x.test", "--ports", "99999"]);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--ports: "99999" is not a port/);
    const addr = await rein(["net", "check", "https://x.test/", "--allow-address", "169.254.0.0/16"]);
    expect(addr.code).toBe(2);
    expect(addr.stderr).toMatch(/can never be allowed/);
    const none = await rein(["net", "check"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/needs a URL/);
    const both = await rein(["net", "check", "https://x.test/", "--jsonl"]);
    expect(both.stderr).toMatch(/not both/);
    const unknown = await rein(["net", "check", "https://x.test/", "--bogus"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);
  });
});
