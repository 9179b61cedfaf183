import { promises as dns } from "node:dns";

/** Resolves a host name to every address it has (A and AAAA), as canonical IP text. */
export type HostResolver = (hostname: string) => Promise<readonly string[]>;

/**
 * The system resolver (getaddrinfo: /etc/hosts, then DNS), every A and AAAA record in the order the
 * system returns them.
 */
export const systemResolver: HostResolver = async (hostname) => {
  const found = await dns.lookup(hostname, { all: true, order: "verbatim" });
  return found.map((a) => a.address);
};

/**
 * A resolver that asks the given DNS servers directly (`"127.0.0.1:5353"`, `"[::1]:53"`), A and AAAA
 * both; a family with no records is skipped, any other failure fails the lookup.
 *
 * @example
 * const firewall = new EgressFirewall({ allow: ["example.com"], resolver: dnsServerResolver(["127.0.0.1:5353"]) });
 */
export function dnsServerResolver(
  servers: readonly string[],
  options: { timeoutMs?: number } = {},
): HostResolver {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs ?? 2_000, tries: 1 });
  resolver.setServers([...servers]);
  const family = async (query: () => Promise<string[]>) => {
    try {
      return await query();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENODATA" || code === "ENOTFOUND") return [];
      throw err;
    }
  };
  return async (hostname) => {
    const [v4, v6] = await Promise.all([
      family(() => resolver.resolve4(hostname)),
      family(() => resolver.resolve6(hostname)),
    ]);
    return [...v4, ...v6];
  };
}
