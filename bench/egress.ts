/**
 * egress (issue 21): what the egress firewall costs.
 * 1. Decision latency without DNS (`checkStatic`) over the SSRF corpus plus allowed URLs, against a bare
 *    WHATWG `new URL()` parse measured in the same run.
 * 2. Decision latency with DNS (`decide`) against a loopback DNS server (in-process, dns-packet), against
 *    the same resolver's bare A+AAAA lookup in the same run (the ratio is the firewall's share).
 * 3. Proxy throughput: one loopback HTTP server sending a large body, read directly, through the
 *    EgressProxy as a forward proxy, and through a CONNECT tunnel, in the same run.
 * Flags: `--quick`, `--mb <n>` (body size, default 64; 8 with --quick).
 */
import { once } from "node:events";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type RequestOptions, request } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startDnsFixture } from "../tests/security/egress/dns-fixture.ts";
import type { Benchmark, BenchOptions, BenchOutput } from "./lib/bench.ts";

const CORPUS = join(
  fileURLToPath(new URL(".", import.meta.url)),
  "../../shared/corpora/ssrf-payloads/urls.txt",
);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function timeEach(items: readonly string[], reps: number, one: (s: string) => unknown): number[] {
  const out: number[] = [];
  for (let r = 0; r < reps; r++)
    for (const item of items) {
      const t = performance.now();
      one(item);
      out.push((performance.now() - t) * 1000);
    }
  return out;
}

async function timeEachAsync(items: readonly string[], reps: number, one: (s: string) => Promise<unknown>) {
  const out: number[] = [];
  for (let r = 0; r < reps; r++)
    for (const item of items) {
      const t = performance.now();
      await one(item);
      out.push((performance.now() - t) * 1000);
    }
  return out;
}

/** Reads a whole response body, returning bytes and seconds. */
function download(options: RequestOptions): Promise<{ bytes: number; seconds: number }> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => (bytes += c.length));
      res.on("end", () => resolve({ bytes, seconds: (performance.now() - t) / 1000 }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** CONNECT through the proxy, then a GET in the tunnel; counts the bytes after the tunnel's headers. */
async function tunnelDownload(
  socketPath: string,
  port: number,
  size: number,
): Promise<{ bytes: number; seconds: number }> {
  const t = performance.now();
  const s = connect(socketPath);
  await once(s, "connect");
  s.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`);
  let total = 0;
  let sent = false;
  let head = Buffer.alloc(0);
  s.on("data", (c: Buffer) => {
    total += c.length;
    if (!sent) {
      head = Buffer.concat([head, c]);
      if (head.includes("\r\n\r\n")) {
        sent = true;
        s.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      }
    }
  });
  await once(s, "close");
  return { bytes: Math.min(total, size), seconds: (performance.now() - t) / 1000 };
}

const fmt = (n: number, d = 1) => n.toFixed(d);

async function run(options: BenchOptions): Promise<BenchOutput> {
  const unknown = Object.keys(options.flags).filter((f) => f !== "mb");
  if (unknown.length > 0) throw new Error(`egress: unknown flag(s) --${unknown.join(", --")}`);
  const mb = Number(options.flags.mb ?? (options.quick ? 8 : 64));
  const reps = options.quick ? 3 : 30;
  const rein = await import("../dist/egress.js");
  const corpus = readFileSync(CORPUS, "utf8").split("\n").filter(Boolean);
  const urls = [...corpus, "https://api.github.com/repos/x/y", "https://files.pypi.org/packages/a.whl"];

  // 1. Without DNS.
  const fw = new rein.EgressFirewall({ allow: ["api.github.com", "*.pypi.org"] });
  timeEach(urls, 2, (u) => fw.checkStatic(u)); // warm-up (ipaddr.js loads on first use)
  const parse = timeEach(urls, reps, (u) => {
    try {
      return new URL(u);
    } catch {
      return null;
    }
  });
  const stat = timeEach(urls, reps, (u) => fw.checkStatic(u));
  options.log(`egress: ${stat.length} decisions without DNS`);

  // 2. With DNS on a loopback server.
  const names = Array.from({ length: 20 }, (_, i) => `h${i}.bench.test`);
  const zone = Object.fromEntries(
    names.map((n, i) => [n, { A: [[`93.184.216.${i + 1}`]], AAAA: [[`2606:2800::${i + 1}`]] }]),
  );
  const dns = await startDnsFixture(zone);
  const resolver = rein.dnsServerResolver([dns.server]);
  const fwDns = new rein.EgressFirewall({ allow: ["*.bench.test"], resolver });
  const bareLookup = await timeEachAsync(names, reps, (n) => resolver(n));
  const withDns = await timeEachAsync(names, reps, (n) => fwDns.decide(`https://${n}/x`));
  await dns.close();
  options.log(`egress: ${withDns.length} decisions with DNS`);

  // 3. Proxy throughput.
  const size = mb * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 120);
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": size });
    let left = size;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
          return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const socketPath = join(mkdtempSync(join(tmpdir(), "rein-bench-egress-")), "egress.sock");
  const proxy = await rein.EgressProxy.listen({
    firewall: new rein.EgressFirewall({ allow: [`127.0.0.1:${port}`], allowAddresses: ["127.0.0.1"] }),
    socketPath,
  });
  const rounds = options.quick ? 2 : 5;
  const best = async (f: () => Promise<{ bytes: number; seconds: number }>) => {
    let top = 0;
    for (let i = 0; i < rounds; i++) {
      const r = await f();
      if (r.bytes < size) throw new Error(`short read: ${r.bytes} of ${size}`);
      top = Math.max(top, r.bytes / 1024 / 1024 / r.seconds);
    }
    return top;
  };
  const direct = await best(() => download({ host: "127.0.0.1", port, path: "/" }));
  const forward = await best(() => download({ socketPath, path: `http://127.0.0.1:${port}/` }));
  const tunnelled = await best(() => tunnelDownload(socketPath, port, size));
  await proxy.close();
  server.close();

  const row = (name: string, v: number[], base: number[]) => [
    name,
    fmt(percentile(v, 50), 2),
    fmt(percentile(v, 99), 2),
    `${fmt(percentile(v, 50) / percentile(base, 50), 1)}×`,
  ];
  return {
    tables: [
      {
        title: `Egress decisions (µs per URL; ${urls.length} URLs × ${reps})`,
        header: ["subject", "p50 µs", "p99 µs", "vs baseline p50"],
        rows: [
          row("baseline: new URL() only", parse, parse),
          row("checkStatic (no DNS)", stat, parse),
          row(`baseline: bare A+AAAA lookup (loopback DNS)`, bareLookup, bareLookup),
          row("decide (with DNS, every answer checked)", withDns, bareLookup),
        ],
      },
      {
        title: `Proxy throughput (${mb} MiB body over loopback, best of ${rounds})`,
        header: ["path", "MiB/s", "vs direct"],
        rows: [
          ["direct (baseline)", fmt(direct), "1.0×"],
          ["EgressProxy forward (Unix socket)", fmt(forward), `${fmt(forward / direct, 2)}×`],
          ["EgressProxy CONNECT tunnel", fmt(tunnelled), `${fmt(tunnelled / direct, 2)}×`],
        ],
      },
    ],
    json: {
      decisions: {
        urls: urls.length,
        reps,
        parseUs: { p50: percentile(parse, 50), p99: percentile(parse, 99) },
        checkStaticUs: { p50: percentile(stat, 50), p99: percentile(stat, 99) },
        bareLookupUs: { p50: percentile(bareLookup, 50), p99: percentile(bareLookup, 99) },
        decideUs: { p50: percentile(withDns, 50), p99: percentile(withDns, 99) },
      },
      throughputMiBs: { direct, forward, tunnelled, mb, rounds },
    },
  };
}

const benchmark: Benchmark = {
  name: "egress",
  description: "egress firewall decision latency (with and without DNS) and proxy throughput vs direct",
  run,
};
export default benchmark;
