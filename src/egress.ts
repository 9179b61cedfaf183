/**
 * `rein/egress`: the egress firewall, `egressFetch`, the sandbox proxy and the `http_fetch` tool.
 * A subpath of its own: its types reach undici and Node's `net`, which `rein`'s own types never do.
 */

export { type AddressClass, classifyAddress } from "./security/egress/address-classifier.js";
export {
  DEFAULT_FETCH_CONTENT_TYPES,
  type EgressFetchOptions,
  type EgressFetchResult,
  egressFetch,
} from "./security/egress/egress-fetch.js";
export {
  type EgressDecision,
  EgressFirewall,
  type EgressFirewallOptions,
  type EgressScheme,
} from "./security/egress/egress-firewall.js";
export { EgressProxy, type EgressProxyOptions, type ProxyDecision } from "./security/egress/egress-proxy.js";
export { dnsServerResolver, type HostResolver, systemResolver } from "./security/egress/resolver.js";
export {
  type HttpFetchResult,
  type HttpFetchToolOptions,
  httpFetchTool,
} from "./tools/builtin/http-fetch.js";
