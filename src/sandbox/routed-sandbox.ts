import { SandboxError, SandboxUnsupportedError } from "../protocol/errors.js";
import type {
  CodeLanguage,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxCapabilities,
  SandboxLimit,
} from "./sandbox.js";

export interface RoutedSandboxOptions {
  /** Runs shell commands (`exec`) and the files; without it there is no shell (every `exec` is refused). */
  readonly shell?: Sandbox;
  /** The sandbox each language's `runCode` goes to, e.g. `{ python: pyodide, javascript: quickjs }`. */
  readonly languages: Partial<Record<CodeLanguage, Sandbox>>;
}

// Weakest first: a routed sandbox is as isolated as its weakest part.
const ISOLATION_ORDER = ["none", "namespaces", "wasm", "container", "user-space-kernel", "microvm"] as const;

/**
 * One `Sandbox` made of several, chosen per language: `runCode("python", …)` goes to the sandbox
 * configured for python (e.g. Pyodide), `runCode("javascript", …)` to QuickJS, `exec` to the shell
 * sandbox (bubblewrap) if there is one. All share one workspace. `capabilities` are the weakest of the
 * parts (an isolation of `none` anywhere is `none`; only limits every part holds are claimed).
 *
 * @example
 * const sandbox = new RoutedSandbox({
 *   shell: new BubblewrapSandbox({ workspace }),
 *   languages: { python: new PyodideSandbox({ workspace }), javascript: new QuickJSSandbox({ workspace }) },
 * });
 */
export class RoutedSandbox implements Sandbox {
  readonly name: string;
  readonly capabilities: SandboxCapabilities;
  readonly workspace: string;
  readonly #shell: Sandbox | undefined;
  readonly #routes: ReadonlyMap<CodeLanguage, Sandbox>;
  readonly #parts: readonly Sandbox[];

  constructor(options: RoutedSandboxOptions) {
    this.#shell = options.shell;
    const routes = new Map<CodeLanguage, Sandbox>();
    for (const [lang, s] of Object.entries(options.languages) as [CodeLanguage, Sandbox | undefined][]) {
      if (!s) continue;
      if (!s.capabilities.languages.includes(lang))
        throw new SandboxError(`The ${s.name} sandbox cannot run ${lang}; route ${lang} to one that can.`, {
          language: lang,
          sandbox: s.name,
        });
      routes.set(lang, s);
    }
    if (this.#shell) {
      for (const lang of this.#shell.capabilities.languages)
        if (!routes.has(lang)) routes.set(lang, this.#shell);
    }
    this.#routes = routes;
    const parts = [...new Set([...(this.#shell ? [this.#shell] : []), ...routes.values()])];
    if (parts.length === 0)
      throw new SandboxError("A routed sandbox needs a shell sandbox or at least one language.");
    this.#parts = parts;
    const first = parts[0]!;
    this.workspace = first.workspace;
    for (const p of parts)
      if (p.workspace !== this.workspace)
        throw new SandboxError(
          `Every part of a routed sandbox must share one workspace: ${p.name} has ${p.workspace}, ${first.name} has ${this.workspace}.`,
          { workspaces: parts.map((x) => x.workspace) },
        );
    this.name = [...routes.entries()].map(([l, s]) => `${l}:${s.name}`).join(",") || first.name;
    const isolation = parts
      .map((p) => p.capabilities.isolation)
      .reduce((a, b) => (ISOLATION_ORDER.indexOf(a) <= ISOLATION_ORDER.indexOf(b) ? a : b));
    const limits = parts
      .map((p) => p.capabilities.limits)
      .reduce((a, b) => a.filter((l) => b.includes(l))) as SandboxLimit[];
    const networks = parts.map((p) => p.capabilities.network);
    const network = networks.every((n) => n[0] === "none")
      ? (["none"] as const)
      : (this.#shell ?? first).capabilities.network;
    this.capabilities = Object.freeze({
      isolation,
      network: Object.freeze([...network]),
      limits: Object.freeze(limits),
      languages: Object.freeze([...routes.keys()]),
    });
  }

  /** Which sandbox runs `language` (undefined: none does). */
  sandboxFor(language: CodeLanguage): Sandbox | undefined {
    return this.#routes.get(language);
  }

  async exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult> {
    if (!this.#shell)
      throw new SandboxUnsupportedError(
        `This sandbox (${this.name}) has no shell, so it cannot run ${JSON.stringify(command)}; configure a shell sandbox (bubblewrap) or use run_code.`,
        { sandbox: this.name },
      );
    return this.#shell.exec(command, options);
  }

  async runCode(
    language: CodeLanguage,
    code: string,
    options?: Omit<ExecOptions, "stdin">,
  ): Promise<ExecResult> {
    const s = this.#routes.get(language);
    if (!s)
      throw new SandboxError(
        `No sandbox is configured for ${language}; this one runs ${[...this.#routes.keys()].join(", ")}.`,
        {
          language,
          available: [...this.#routes.keys()],
        },
      );
    return s.runCode(language, code, options);
  }

  putFile(path: string, data: string | Uint8Array): Promise<void> {
    return this.#parts[0]!.putFile(path, data);
  }

  getFile(path: string): Promise<Uint8Array> {
    return this.#parts[0]!.getFile(path);
  }

  async reset(): Promise<void> {
    for (const p of this.#parts) await p.reset();
  }

  async dispose(): Promise<void> {
    await Promise.all(this.#parts.map((p) => p.dispose()));
  }
}
