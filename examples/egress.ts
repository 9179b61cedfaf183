/**
 * Let an agent reach only the hosts you allow: the egress firewall (default deny, every resolved
 * address checked at connect, redirects re-checked) behind `http_fetch` and behind the proxy a
 * bubblewrap sandbox's only way out goes through. Two local servers stand in for the internet, so the
 * loopback address is opted in explicitly (`allowAddresses`); nothing else private ever is.
 * Run: node examples/egress.ts
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandbox } from "rein";
import { EgressFirewall, EgressProxy, egressFetch } from "rein/egress";

const listen = async (body: string) => {
  const server = createServer((_req, res) =>
    res.writeHead(200, { "content-type": "text/plain" }).end(body),
  ).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  return { server, port: (server.address() as AddressInfo).port };
};
const docs = await listen("docs server");
const other = await listen("other server");

const firewall = new EgressFirewall({ allow: [`127.0.0.1:${docs.port}`], allowAddresses: ["127.0.0.1"] });
for (const url of ["http://0xa9fea9fe/latest/meta-data/", `http://127.0.0.1:${other.port}/`]) {
  const d = await firewall.decide(url);
  console.log(`${d.allowed ? "allowed" : "denied "} ${d.rule}: ${d.reason.replace(/port \d+/, "port PORT")}`);
}
const page = await egressFetch(firewall, `http://127.0.0.1:${docs.port}/`);
console.log("egressFetch:", page.status, page.body);

// The proxy's socket folder: private to you, searchable (not listable) by the sandbox's user.
const dir = mkdtempSync(join(tmpdir(), "rein-egress-"));
chmodSync(dir, 0o711);
const proxy = await EgressProxy.listen({ firewall, socketPath: join(dir, "egress.sock") });
const sandbox = createSandbox({ network: { proxySocket: proxy.socketPath } });
try {
  const curl = (port: number) =>
    sandbox.exec(["curl", "-sS", "-w", " %{http_code}", `http://127.0.0.1:${port}/`]);
  console.log("sandbox -> allowed:", (await curl(docs.port)).stdout);
  console.log("sandbox -> other:  ", (await curl(other.port)).stdout.replace(/port \d+/, "port PORT"));
  const direct = await sandbox.exec(["curl", "-sS", "--noproxy", "*", `http://127.0.0.1:${docs.port}/`]);
  console.log("sandbox -> direct: curl exit", direct.exitCode);
} finally {
  await sandbox.dispose();
  await proxy.close();
  docs.server.close();
  other.server.close();
  rmSync(dir, { recursive: true, force: true });
}
