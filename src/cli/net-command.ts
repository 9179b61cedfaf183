import type { Command } from "commander";
import { ConfigError } from "../protocol/errors.js";
import type { EgressDecision } from "../security/egress/egress-firewall.js";

const list = (v: string | undefined): string[] =>
  v === undefined
    ? []
    : v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);

function ports(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  return list(v).map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65_535)
      throw new ConfigError(`--ports: ${JSON.stringify(p)} is not a port (1-65535).`, { field: "--ports" });
    return n;
  });
}

function verdictJson(d: EgressDecision) {
  return {
    url: d.url,
    allowed: d.allowed,
    rule: d.rule,
    reason: d.reason,
    ...(d.host !== undefined ? { host: d.host, port: d.port } : {}),
    resolved: d.resolved,
    addresses: d.addresses,
  };
}

/** `rein net check`: the egress firewall's verdict on URLs, as JSON. */
export function registerNetCommand(cli: Command): void {
  const net = cli.command("net").description("the egress firewall: check what a URL may reach");
  net
    .command("check [url]")
    .description(
      "print the firewall's JSON verdict on a URL (allowed, rule, reason, resolved addresses); exit 1 if denied",
    )
    .option("--allow <hosts>", "allowed hosts, comma-separated: example.com, *.example.com, host:port, *")
    .option("--ports <ports>", "ports allowed for entries without their own (default 80,443)")
    .option(
      "--allow-address <cidrs>",
      "non-public addresses to allow anyway (e.g. 127.0.0.1 for a local test server)",
    )
    .option(
      "--no-resolve",
      "decide without DNS: scheme, port, userinfo, encodings, literal IPs, the allowlist",
    )
    .option("--dns-server <host:port>", "ask this DNS server instead of the system resolver")
    .option("--jsonl", "read one URL per line from stdin and print one verdict per line")
    .action(async (url: string | undefined, o) => {
      // Loaded here, not at registration: `rein --help` loads no subsystem.
      const { EgressFirewall } = await import("../security/egress/egress-firewall.js");
      const { dnsServerResolver } = await import("../security/egress/resolver.js");
      const { readStdin } = await import("./read-stdin.js");
      const firewall = new EgressFirewall({
        allow: list(o.allow),
        ...(o.ports !== undefined ? { ports: ports(o.ports) } : {}),
        allowAddresses: list(o.allowAddress),
        ...(o.dnsServer !== undefined ? { resolver: dnsServerResolver(list(o.dnsServer)) } : {}),
      });
      const resolve = o.resolve !== false;
      if (o.jsonl) {
        if (url !== undefined)
          throw new ConfigError("rein net check: give a URL or --jsonl, not both.", { field: "--jsonl" });
        const lines = (await readStdin(16 * 1024 * 1024, "rein net check")).split("\n").map((l) => l.trim());
        let denied = 0;
        for (const line of lines.filter(Boolean)) {
          const d = await firewall.decide(line, { resolve });
          if (!d.allowed) denied++;
          process.stdout.write(`${JSON.stringify(verdictJson(d))}\n`);
        }
        process.exitCode = denied > 0 ? 1 : 0;
        return;
      }
      if (url === undefined)
        throw new ConfigError("rein net check needs a URL (or --jsonl with URLs on stdin).", {
          field: "url",
        });
      const d = await firewall.decide(url, { resolve });
      process.stdout.write(`${JSON.stringify(verdictJson(d), null, 2)}\n`);
      process.exitCode = d.allowed ? 0 : 1;
    });
}
