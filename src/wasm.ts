/**
 * `rein/wasm`: the WebAssembly sandboxes (QuickJS, Pyodide in bubblewrap), their warm pool and the
 * per-language `RoutedSandbox`. A subpath of its own: its types reach Node's streams, which `rein`'s
 * own types never do. (`createSandbox({ backend: "wasm" | "quickjs" | "pyodide" })` from `rein` builds them too.)
 */

export { RoutedSandbox, type RoutedSandboxOptions } from "./sandbox/routed-sandbox.js";
export { WarmPool, type WarmPoolOptions } from "./sandbox/warm-pool.js";
export {
  DEFAULT_PYODIDE_LIMITS,
  type PyodideOptions,
  PyodideSandbox,
} from "./sandbox/wasm/pyodide-sandbox.js";
export {
  DEFAULT_QUICKJS_LIMITS,
  type QuickJSOptions,
  QuickJSSandbox,
} from "./sandbox/wasm/quickjs-sandbox.js";
