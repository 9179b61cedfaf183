import { PROXY_SOCKET_PATH } from "./args.js";

/** The loopback port inside the sandbox where the forwarder to the egress proxy listens. */
export const PROXY_PORT = 3128;
/** What the sandbox's proxy variables point at. */
export const SANDBOX_PROXY_URL = `http://127.0.0.1:${PROXY_PORT}`;

/**
 * The proxy variables a command in a proxy-mode sandbox gets, upper and lower case (curl reads
 * `http_proxy` only in lower case, Python and Go read both), and NODE_USE_ENV_PROXY for Node 24's
 * http and fetch. They are a convenience, not the barrier: the sandbox's network namespace has only
 * loopback, so a program that ignores them has no route out at all.
 */
export function sandboxProxyEnv(): Record<string, string> {
  const env: Record<string, string> = { NODE_USE_ENV_PROXY: "1", NO_PROXY: "", no_proxy: "" };
  for (const k of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]) {
    env[k] = SANDBOX_PROXY_URL;
    env[k.toLowerCase()] = SANDBOX_PROXY_URL;
  }
  return env;
}

// socat relays 127.0.0.1:3128 inside the sandbox to the proxy's Unix socket. The command starts only
// once the listener shows in /proc/net/tcp (0100007F:0C38 = 127.0.0.1:3128, state 0A = LISTEN), so its
// first connection cannot race the forwarder; the wait is bounded and fails loudly.
const FORWARDER_SCRIPT = [
  `"$0" TCP-LISTEN:${PROXY_PORT},bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:${PROXY_SOCKET_PATH} </dev/null >/dev/null 2>&1 &`,
  "i=0",
  `until grep -q '^ *[0-9]*: 0100007F:${PROXY_PORT.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A' /proc/net/tcp; do`,
  '  i=$((i+1)); if [ "$i" -gt 100000 ]; then echo "rein: the egress forwarder (socat) did not start" >&2; exit 125; fi',
  "done",
  'exec "$@"',
].join("\n");

/** The command wrapped so that the forwarder runs beside it in the sandbox: `[file, args]`. */
export function withForwarder(socat: string, [file, args]: [string, string[]]): [string, string[]] {
  return ["/bin/sh", ["-c", FORWARDER_SCRIPT, socat, file, ...args]];
}
