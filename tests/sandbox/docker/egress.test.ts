import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerSandbox } from "../../../src/sandbox/docker/docker-sandbox.js";
import { EgressFirewall } from "../../../src/security/egress/egress-firewall.js";
import { EgressProxy, type ProxyDecision } from "../../../src/security/egress/egress-proxy.js";
import { tempDir } from "../../helpers.js";
import { type LoopbackServer, startServer, text } from "../../security/egress/loopback-servers.js";

/** Python in the container: fetch a URL the way most programs do (the proxy variables), print status and body. */
const fetchPy = (url: string) =>
  [
    "import urllib.request, urllib.error",
    "try:",
    `    r = urllib.request.urlopen(${JSON.stringify(url)}, timeout=20); print(r.status, r.read().decode())`,
    "except urllib.error.HTTPError as e: print(e.code, e.read().decode())",
  ].join("\n");

describe("docker sandbox egress: the firewall proxy is the only way out", () => {
  let allowed: LoopbackServer;
  let denied: LoopbackServer;
  let proxy: EgressProxy;
  let sandbox: DockerSandbox;
  const decisions: ProxyDecision[] = [];

  beforeAll(async () => {
    allowed = await startServer(text("allowed server"));
    denied = await startServer(text("denied server"), "127.0.0.2");
    const dir = tempDir("rein-docker-egress-");
    chmodSync(dir, 0o755);
    proxy = await EgressProxy.listen({
      firewall: new EgressFirewall({
        allow: ["127.0.0.1"],
        ports: [allowed.port],
        allowAddresses: ["127.0.0.1"],
      }),
      socketPath: path.join(dir, "egress.sock"),
      onDecision: (d) => decisions.push(d),
    });
    sandbox = new DockerSandbox({ network: { proxySocket: proxy.socketPath } });
    await sandbox.ready();
  }, 60_000);
  afterAll(async () => {
    await sandbox?.dispose();
    await proxy?.close();
    await allowed?.close();
    await denied?.close();
  }, 60_000);

  it("an allowed host is reached through the proxy (the proxy variables point at the in-container forwarder)", async () => {
    expect(sandbox.capabilities.network).toEqual(["proxy"]);
    const r = await sandbox.runCode("python", fetchPy(`${allowed.origin}/hello`), { timeoutMs: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("200 allowed server\n");
    expect(decisions.some((d) => d.allowed && d.target.startsWith(allowed.origin))).toBe(true);
  }, 60_000);

  it("a host the firewall denies is refused by the proxy: 403 egress_denied, the server never reached", async () => {
    const r = await sandbox.runCode("python", fetchPy(`${denied.origin}/secret`), { timeoutMs: 60_000 });
    const [status, ...body] = r.stdout.trim().split(" ");
    expect(status).toBe("403");
    expect(JSON.parse(body.join(" "))).toMatchObject({ error: "egress_denied" });
    expect(decisions.some((d) => !d.allowed && d.target.startsWith(denied.origin))).toBe(true);
    expect(denied.hits).toEqual([]);
  }, 60_000);

  it("a direct connection is impossible: only loopback inside, the host's servers unreachable without the proxy", async () => {
    const ifaces = await sandbox.exec("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    expect(ifaces.stdout.trim()).toBe("lo");
    const r = await sandbox.runCode(
      "python",
      [
        "import errno, socket",
        `for host in ("127.0.0.1", "127.0.0.2", "172.17.0.1", "8.8.8.8"):`,
        "    try:",
        `        socket.create_connection((host, ${allowed.port}), timeout=5); print(host, "connected")`,
        "    except OSError as e: print(host, errno.errorcode.get(e.errno, e.errno))",
      ].join("\n"),
      { timeoutMs: 60_000 },
    );
    // The container's own loopback has no such server; everything else has no route at all.
    expect(r.stdout).toBe(
      "127.0.0.1 ECONNREFUSED\n127.0.0.2 ECONNREFUSED\n172.17.0.1 ENETUNREACH\n8.8.8.8 ENETUNREACH\n",
    );
  }, 60_000);

  it("rein sandbox exec --backend docker --network proxy:<socket> reaches the allowed host through it", async () => {
    // Spawned without blocking: the proxy serving the command runs in this process.
    const child = spawn(
      process.execPath,
      [
        path.resolve(import.meta.dirname, "../../../bin/rein.js"),
        "sandbox",
        "exec",
        "--backend",
        "docker",
        "--network",
        `proxy:${proxy.socketPath}`,
        "--language",
        "python",
        fetchPy(`${allowed.origin}/cli`),
      ],
      { cwd: tempDir(), stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const [code] = await once(child, "exit");
    expect(out).toBe("200 allowed server\n");
    expect(code).toBe(0);
  }, 120_000);

  it("gvisor refuses a proxy network up front, saying why; a missing socket is refused too", () => {
    expect(() => new DockerSandbox({ runtime: "runsc", network: { proxySocket: proxy.socketPath } })).toThrow(
      /gvisor sandbox has no egress proxy/,
    );
    expect(() => new DockerSandbox({ network: { proxySocket: "/nonexistent/egress.sock" } })).toThrow(
      /egress proxy socket .* does not exist/,
    );
  });
});
