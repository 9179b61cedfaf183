import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EgressDeniedError } from "../../../src/protocol/errors.js";
import { ToolFailure } from "../../../src/protocol/tool-result.js";
import { egressFetch } from "../../../src/security/egress/egress-fetch.js";
import { EgressFirewall } from "../../../src/security/egress/egress-firewall.js";
import { dnsServerResolver } from "../../../src/security/egress/resolver.js";
import { type DnsFixture, startDnsFixture } from "./dns-fixture.js";
import { type LoopbackServer, startServer, text } from "./loopback-servers.js";

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe("egressFetch against loopback servers (loopback opted in with allowAddresses)", () => {
  let app: LoopbackServer;
  let other: LoopbackServer;
  let dns: DnsFixture;
  let fw: EgressFirewall;
  beforeAll(async () => {
    other = await startServer(text("secret from 127.0.0.2"), "127.0.0.2");
    app = await startServer((req, res) => {
      if (req.url === "/big") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("x".repeat(5000));
      } else if (req.url === "/png") {
        res.writeHead(200, { "content-type": "image/png" });
        res.end("PNG");
      } else if (req.url === "/hang") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("start");
      } else if (req.url === "/to-other") {
        res.writeHead(302, { location: `http://127.0.0.2:${other.port}/` });
        res.end();
      } else if (req.url === "/to-metadata") {
        res.writeHead(301, { location: "http://169.254.169.254/latest/meta-data/" });
        res.end();
      } else if (req.url === "/to-rebind") {
        res.writeHead(307, { location: `http://rebind.test:${app.port}/json` });
        res.end();
      } else if (req.url === "/loop") {
        res.writeHead(302, { location: "/loop" });
        res.end();
      } else if (req.url === "/hop") {
        res.writeHead(303, { location: "/json" });
        res.end();
      } else if (req.url === "/json") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"ok":true}');
      } else text("hello from app")(req, res);
    });
    dns = await startDnsFixture({
      "app.test": { A: [["127.0.0.1"]] },
      "pin.test": { A: [["127.0.0.1"], ["127.0.0.2"]] },
      "rebind.test": { A: [["93.184.216.34"], ["127.0.0.1"]] },
      "mixed.test": { A: [["127.0.0.1", "10.0.0.1"]] },
    });
    fw = new EgressFirewall({
      allow: ["127.0.0.1", "127.0.0.2", "*.test"],
      ports: [app.port, other.port, 80],
      allowAddresses: ["127.0.0.1"],
      resolver: dnsServerResolver([dns.server]),
    });
  });
  afterAll(async () => {
    await app.close();
    await other.close();
    await dns.close();
  });

  it("fetches an allowed server and returns the body as data", async () => {
    const r = await egressFetch(fw, `${app.origin}/`);
    expect(r).toMatchObject({ status: 200, body: "hello from app", truncated: false, redirects: [] });
    expect(r.contentType).toMatch(/^text\/plain/);
  });

  it("connects by name to the resolved, checked address (Host header kept)", async () => {
    const r = await egressFetch(fw, `http://app.test:${app.port}/json`);
    expect(r.body).toBe('{"ok":true}');
    expect(app.hits.at(-1)).toBe(`GET /json app.test:${app.port}`);
  });

  it("pins: one lookup per connection, and the socket goes to that answer (a second lookup would say 127.0.0.2)", async () => {
    const before = dns.queries.filter((q) => q === "A pin.test").length;
    const r = await egressFetch(fw, `http://pin.test:${app.port}/`);
    expect(r.body).toBe("hello from app");
    expect(dns.queries.filter((q) => q === "A pin.test").length).toBe(before + 1);
    expect(other.hits).toEqual([]);
  });

  it("DNS rebinding: public when checked, 127.0.0.1 when connecting: refused at connect, nothing sent", async () => {
    const strict = new EgressFirewall({
      allow: ["*.test"],
      ports: [app.port],
      resolver: dnsServerResolver([dns.server]),
    });
    const first = await strict.decide(`http://rebind.test:${app.port}/`);
    expect(first).toMatchObject({ allowed: true });
    expect(first.addresses.map((a) => a.address)).toEqual(["93.184.216.34"]);
    const hits = app.hits.length;
    const denied = await rejection(egressFetch(strict, `http://rebind.test:${app.port}/json`));
    expect(denied).toBeInstanceOf(EgressDeniedError);
    expect((denied as EgressDeniedError).details).toMatchObject({
      address: "127.0.0.1",
      rule: "egress:address",
    });
    expect(app.hits.length).toBe(hits);
  });

  it("a record set with one private address is refused whole at connect", async () => {
    const err = await rejection(egressFetch(fw, `http://mixed.test:${app.port}/`));
    expect(err).toBeInstanceOf(EgressDeniedError);
    expect((err as Error).message).toMatch(/10\.0\.0\.1 is private/);
  });

  it("re-checks every redirect: a hop to a non-allowed address or metadata is refused and never fetched", async () => {
    const toOther = await rejection(egressFetch(fw, `${app.origin}/to-other`));
    expect(toOther).toBeInstanceOf(EgressDeniedError);
    expect((toOther as Error).message).toMatch(/redirect 1.*127\.0\.0\.2 is loopback/);
    expect(other.hits).toEqual([]);
    const toMeta = await rejection(egressFetch(fw, `${app.origin}/to-metadata`));
    expect((toMeta as EgressDeniedError).details).toMatchObject({ rule: "egress:metadata" });
  });

  it("follows allowed redirects (303 turns into GET) and stops a redirect loop", async () => {
    const r = await egressFetch(fw, `${app.origin}/hop`);
    expect(r).toMatchObject({ body: '{"ok":true}', finalUrl: `${app.origin}/json` });
    expect(r.redirects).toEqual([{ url: `${app.origin}/hop`, status: 303 }]);
    const loop = await rejection(egressFetch(fw, `${app.origin}/loop`, { maxRedirects: 3 }));
    expect(loop).toBeInstanceOf(ToolFailure);
    expect((loop as ToolFailure).type).toBe("too_many_redirects");
  });

  it("caps the body, refuses other content types, and times out a server that stalls", async () => {
    const big = await egressFetch(fw, `${app.origin}/big`, { maxBytes: 1000 });
    expect(big).toMatchObject({ bytes: 1000, truncated: true });
    expect(big.body.length).toBe(1000);
    const png = await rejection(egressFetch(fw, `${app.origin}/png`));
    expect((png as ToolFailure).type).toBe("content_type_refused");
    const hang = await rejection(egressFetch(fw, `${app.origin}/hang`, { timeoutMs: 300 }));
    expect((hang as ToolFailure).type).toBe("timeout");
  });

  describe("proxy environment variables cannot route around it", () => {
    let proxy: LoopbackServer;
    const saved = { ...process.env };
    beforeAll(async () => {
      proxy = await startServer(text("from the env proxy"));
    });
    afterEach(() => {
      for (const k of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "NO_PROXY"])
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
    });
    afterAll(() => proxy.close());

    it("ignores HTTP(S)_PROXY: the request goes direct to the checked address, a denied one stays denied", async () => {
      for (const k of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"])
        process.env[k] = proxy.origin;
      process.env.NO_PROXY = "";
      const r = await egressFetch(fw, `${app.origin}/json`);
      expect(r.body).toBe('{"ok":true}');
      const denied = await rejection(egressFetch(fw, `http://127.0.0.2:${other.port}/`));
      expect(denied).toBeInstanceOf(EgressDeniedError);
      expect(proxy.hits).toEqual([]);
      expect(other.hits).toEqual([]);
    });
  });
});
