import { once } from "node:events";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BubblewrapSandbox } from "../../../src/sandbox/bubblewrap/bubblewrap-sandbox.js";
import { EgressFirewall } from "../../../src/security/egress/egress-firewall.js";
import { EgressProxy, type ProxyDecision } from "../../../src/security/egress/egress-proxy.js";
import { dnsServerResolver } from "../../../src/security/egress/resolver.js";
import { tempDir } from "../../helpers.js";
import { type DnsFixture, startDnsFixture } from "./dns-fixture.js";
import { type LoopbackServer, startServer, text } from "./loopback-servers.js";

/** One absolute-form request through the proxy's Unix socket. */
function viaProxy(socketPath: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const host = url.startsWith("/") ? "localhost" : new URL(url).host;
    const req = request({ socketPath, path: url, method: "GET", headers: { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A raw CONNECT, then (if accepted) a GET through the tunnel; returns everything the proxy sent. */
async function tunnel(socketPath: string, authority: string, hostHeader = authority): Promise<string> {
  const s = connect(socketPath);
  await once(s, "connect");
  let got = "";
  let sent = false;
  s.setEncoding("utf8");
  s.on("data", (c: string) => {
    got += c;
    if (!sent && got.startsWith("HTTP/1.1 200 ") && got.includes("\r\n\r\n")) {
      sent = true;
      s.write(`GET /tunnelled HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`);
    }
  });
  s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  await once(s, "close");
  return got;
}

describe("EgressProxy: HTTP forward and CONNECT proxy on a Unix socket", () => {
  let allowed: LoopbackServer;
  let other: LoopbackServer;
  let dns: DnsFixture;
  let proxy: EgressProxy;
  const decisions: ProxyDecision[] = [];
  beforeAll(async () => {
    allowed = await startServer(text("allowed server"));
    other = await startServer(text("other server"), "127.0.0.2");
    dns = await startDnsFixture({ "rebind.test": { A: [["93.184.216.34"], ["127.0.0.2"]] } });
    const dir = tempDir("rein-proxy-");
    proxy = await EgressProxy.listen({
      firewall: new EgressFirewall({
        allow: ["127.0.0.1", "127.0.0.2", "rebind.test"],
        ports: [allowed.port, other.port, 443],
        allowAddresses: ["127.0.0.1"],
        resolver: dnsServerResolver([dns.server]),
      }),
      socketPath: path.join(dir, "egress.sock"),
      onDecision: (d) => decisions.push(d),
    });
  });
  afterAll(async () => {
    await proxy.close();
    await allowed.close();
    await other.close();
    await dns.close();
  });

  it("forwards an allowed absolute-form request", async () => {
    const r = await viaProxy(proxy.socketPath, `${allowed.origin}/hello`);
    expect(r).toEqual({ status: 200, body: "allowed server" });
    expect(allowed.hits.at(-1)).toBe(`GET /hello 127.0.0.1:${allowed.port}`);
    expect(decisions.at(-1)).toMatchObject({ method: "GET", allowed: true });
  });

  it("refuses a forward request to a non-opted-in address with 403 and the rule, sending nothing", async () => {
    const r = await viaProxy(proxy.socketPath, `${other.origin}/`);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: "egress_denied", rule: "egress:address" });
    expect(other.hits).toEqual([]);
  });

  it("refuses origin-form requests (a proxy only takes absolute URLs)", async () => {
    const r = await viaProxy(proxy.socketPath, "/local");
    expect(r.status).toBe(400);
  });

  it("tunnels an allowed CONNECT, including a numeric spelling of the allowed address", async () => {
    const got = await tunnel(proxy.socketPath, `127.0.0.1:${allowed.port}`);
    expect(got).toMatch(/^HTTP\/1.1 200 Connection Established/);
    expect(got).toMatch(/\r\n\r\n[\s\S]*allowed server/);
    const hex = await tunnel(proxy.socketPath, `0x7f.1:${allowed.port}`);
    expect(hex).toMatch(/allowed server/);
  });

  it("refuses CONNECT to a refused address, to a port not allowed, and to non-authority targets", async () => {
    const denied = await tunnel(proxy.socketPath, `127.0.0.2:${other.port}`);
    expect(denied).toMatch(/^HTTP\/1.1 403 Forbidden/);
    expect(denied).toMatch(/"rule":"egress:address"/);
    expect(await tunnel(proxy.socketPath, "127.0.0.1:22")).toMatch(/403[\s\S]*egress:port/);
    for (const bad of [`user@127.0.0.1:${allowed.port}`, `127.0.0.1:${allowed.port}/x`, "127.0.0.1"])
      expect(await tunnel(proxy.socketPath, bad)).toMatch(/403[\s\S]*egress:invalid-url/);
    expect(other.hits).toEqual([]);
  });

  it("DNS rebinding through CONNECT: the name is checked at connect on the address it resolves to", async () => {
    const firewallSaysFirst = await new EgressFirewall({
      allow: ["rebind.test"],
      resolver: dnsServerResolver([dns.server]),
    }).decide("https://rebind.test/");
    expect(firewallSaysFirst.allowed).toBe(true); // first answer: public
    const got = await tunnel(proxy.socketPath, `rebind.test:${other.port}`);
    expect(got).toMatch(/^HTTP\/1.1 403[\s\S]*127\.0\.0\.2 is loopback/);
    expect(other.hits).toEqual([]);
  });

  it("close() ends open tunnels and removes the socket", async () => {
    const dir = tempDir("rein-proxy-");
    const p = await EgressProxy.listen({
      firewall: new EgressFirewall({
        allow: ["127.0.0.1"],
        ports: [allowed.port],
        allowAddresses: ["127.0.0.1"],
      }),
      socketPath: path.join(dir, "p.sock"),
    });
    const s = connect(p.socketPath);
    await once(s, "connect");
    s.write(`CONNECT 127.0.0.1:${allowed.port} HTTP/1.1\r\n\r\n`);
    await once(s, "data");
    const closed = once(s, "close");
    await p.close();
    await closed;
    expect(existsSync(p.socketPath)).toBe(false);
  });

  it("refuses to replace a file that is not a socket", async () => {
    const dir = tempDir("rein-proxy-");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "not-a-socket");
    writeFileSync(file, "keep me");
    await expect(EgressProxy.listen({ firewall: new EgressFirewall(), socketPath: file })).rejects.toThrow(
      /exists and is not a socket/,
    );
  });
});

describe("a bubblewrap sandbox with an allowlist reaches only allowed hosts, through the proxy (end to end)", () => {
  let allowed: LoopbackServer;
  let other: LoopbackServer;
  let proxy: EgressProxy;
  let sandbox: BubblewrapSandbox;
  const decisions: ProxyDecision[] = [];
  beforeAll(async () => {
    allowed = await startServer(text("allowed server"));
    other = await startServer(text("other server"));
    const dir = tempDir("rein-proxy-");
    chmodSync(dir, 0o711); // bubblewrap binds the socket as the sandbox's user
    proxy = await EgressProxy.listen({
      // Same address, different ports: only the allowed server's port is on the list.
      firewall: new EgressFirewall({
        allow: [`127.0.0.1:${allowed.port}`],
        allowAddresses: ["127.0.0.1"],
      }),
      socketPath: path.join(dir, "egress.sock"),
      onDecision: (d) => decisions.push(d),
    });
    sandbox = new BubblewrapSandbox({ network: { proxySocket: proxy.socketPath } });
  });
  afterAll(async () => {
    await sandbox?.dispose();
    await proxy?.close();
    await allowed?.close();
    await other?.close();
  });

  it("the sandbox refuses a proxy socket its user cannot reach (a 0700 folder while dropping from root)", async () => {
    const dir = tempDir("rein-proxy-");
    chmodSync(dir, 0o700);
    const p = await EgressProxy.listen({
      firewall: new EgressFirewall(),
      socketPath: path.join(dir, "s.sock"),
    });
    try {
      const make = () => new BubblewrapSandbox({ network: { proxySocket: p.socketPath } }).dispose();
      if (process.getuid?.() === 0) expect(make).toThrow(/cannot reach the egress proxy socket/);
      else await make(); // the sandbox runs as this user, who owns the folder
    } finally {
      await p.close();
    }
  });

  it("curl reaches the allowed server through the proxy (forward and CONNECT)", async () => {
    const r = await sandbox.exec(["curl", "-sS", `http://127.0.0.1:${allowed.port}/from-curl`]);
    expect(r.stdout).toBe("allowed server");
    expect(allowed.hits.at(-1)).toBe(`GET /from-curl 127.0.0.1:${allowed.port}`);
    const t = await sandbox.exec(["curl", "-sS", "-p", `http://127.0.0.1:${allowed.port}/tunnel`]);
    expect(t.stdout).toBe("allowed server");
    expect(decisions.some((d) => d.method === "CONNECT" && d.allowed)).toBe(true);
  });

  it("curl is refused for a host:port not on the list (403 from the proxy), and the server sees nothing", async () => {
    const r = await sandbox.exec(["curl", "-sS", "-i", `http://127.0.0.1:${other.port}/`]);
    expect(r.stdout).toMatch(/^HTTP\/1.1 403 Forbidden[\s\S]*"rule":"egress:port"/);
    const t = await sandbox.exec(["curl", "-sS", "-p", `http://127.0.0.1:${other.port}/`]);
    expect(t.exitCode).not.toBe(0);
    expect(t.stderr).toMatch(/403/);
    expect(other.hits).toEqual([]);
  });

  it("python3 urllib goes through the proxy too, allowed and refused", async () => {
    const code = [
      "import urllib.request, urllib.error",
      `print(urllib.request.urlopen("http://127.0.0.1:${allowed.port}/py").read().decode())`,
      "try:",
      `    urllib.request.urlopen("http://127.0.0.1:${other.port}/py")`,
      "except urllib.error.HTTPError as e:",
      "    print(e.code)",
    ].join("\n");
    const r = await sandbox.runCode("python", code);
    expect(r.stdout).toBe("allowed server\n403\n");
    expect(other.hits).toEqual([]);
  });

  it("cannot connect directly: no proxy means no route (loopback is the sandbox's own, nothing else exists)", async () => {
    const direct = await sandbox.exec([
      "curl",
      "-sS",
      "--noproxy",
      "*",
      `http://127.0.0.1:${allowed.port}/direct`,
    ]);
    expect(direct.exitCode).toBe(7); // couldn't connect: the host's 127.0.0.1 is not in this namespace
    const code = [
      "import socket",
      "for host in ('10.0.0.1', '93.184.216.34'):",
      "    try:",
      "        socket.create_connection((host, 80), timeout=2)",
      "    except OSError as e:",
      "        print(e.errno)",
    ].join("\n");
    const r = await sandbox.runCode("python", code);
    expect(r.stdout).toBe("101\n101\n"); // ENETUNREACH: no interface but lo
    expect(allowed.hits.some((h) => h.includes("/direct"))).toBe(false);
  });
});
