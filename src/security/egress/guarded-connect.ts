import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { EgressDeniedError } from "../../protocol/errors.js";
import type { EgressFirewall } from "./egress-firewall.js";

export interface GuardedConnectOptions {
  /** The host as the URL names it (a name or a canonical IP literal, without brackets). */
  readonly host: string;
  readonly port: number;
  /** Wrap in TLS, verifying the certificate for `host` (SNI = host when it is a name). */
  readonly tls?: { readonly alpn?: readonly string[] };
  /** Longest the TCP (and TLS) connect may take; default 10 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Opens a TCP (or TLS) connection only to an address the firewall allows, and pins it: the host is
 * resolved once, every A/AAAA answer is checked (one bad answer refuses them all, so a rebinding
 * record set cannot slip a private address in), the socket connects to one of those exact IPs, and
 * its peer address is checked again once connected. The host's allowlist entry is not checked here
 * (callers check the URL first); this is the address half, run at the moment of connecting.
 *
 * @throws EgressDeniedError when an address is refused, the name does not resolve, or no address connects.
 */
export async function guardedConnect(
  firewall: EgressFirewall,
  options: GuardedConnectOptions,
): Promise<Socket> {
  const { host, port } = options;
  let addresses: readonly string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    const looked = await firewall.resolve(host);
    if (!looked.ok) throw new EgressDeniedError(looked.reason, { host, port, rule: "egress:dns" });
    addresses = looked.addresses;
  }
  for (const a of addresses) {
    const v = firewall.checkAddress(a);
    if (!v.allowed)
      throw new EgressDeniedError(`Egress refused: ${host} resolves to ${v.reason}.`, {
        host,
        port,
        rule: v.rule,
        address: v.address.address,
        range: v.address.range,
      });
  }
  let last: unknown;
  for (const ip of addresses) {
    options.signal?.throwIfAborted();
    try {
      return await connectTo(firewall, ip, options);
    } catch (err) {
      if (err instanceof EgressDeniedError) throw err;
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error(`could not connect to ${host}:${port}`);
}

function connectTo(firewall: EgressFirewall, ip: string, options: GuardedConnectOptions): Promise<Socket> {
  const { host, port } = options;
  return new Promise<Socket>((resolve, reject) => {
    const socket: Socket = options.tls
      ? tlsConnect({
          host: ip,
          port,
          // SNI and the certificate check use the URL's host, not the IP connected to.
          servername: isIP(host) === 0 ? host : undefined,
          ALPNProtocols: options.tls.alpn ? [...options.tls.alpn] : undefined,
        })
      : netConnect({ host: ip, port });
    const timer = setTimeout(
      () => fail(new Error(`connect to ${host}:${port} timed out`)),
      options.timeoutMs ?? 10_000,
    );
    const onAbort = () => fail(options.signal?.reason ?? new Error("aborted"));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.off("error", fail);
    };
    function fail(err: unknown) {
      done();
      socket.destroy();
      reject(err);
    }
    socket.once("error", fail);
    socket.once(options.tls ? "secureConnect" : "connect", () => {
      // The peer address of the connected socket, not what was asked for, is what gets judged.
      const peer = socket.remoteAddress ?? "";
      const v = firewall.checkAddress(peer.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, ""));
      if (!v.allowed || (peer !== ip && !peer.endsWith(`:${ip}`))) {
        fail(
          new EgressDeniedError(`Egress refused: the connection to ${host} reached ${peer} (${v.reason}).`, {
            host,
            port,
            rule: v.rule,
            address: peer,
          }),
        );
        return;
      }
      done();
      resolve(socket);
    });
  });
}
