import type { ApprovalGate } from "../approvals/approval-gate.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import { type KnownValues, knownSecretsFromEnv } from "./known-values.js";
import type { SecretRedactor } from "./redactor.js";

/**
 * A sandbox that registers the credentials in each command's env (`*_TOKEN`, `*_API_KEY`,
 * `*_PASSWORD`, …) as known secrets before the command runs, so whatever the command prints of them
 * is redacted by exact value.
 */
export function secretRegisteringSandbox(sandbox: Sandbox, known: KnownValues): Sandbox {
  const register = (env: Readonly<Record<string, string>> | undefined) => {
    if (env) for (const s of knownSecretsFromEnv(env)) known.add(s.label, s.value);
  };
  return {
    name: sandbox.name,
    capabilities: sandbox.capabilities,
    workspace: sandbox.workspace,
    exec(command, options) {
      register(options?.env);
      return sandbox.exec(command, options);
    },
    runCode(language, code, options) {
      register(options?.env);
      return sandbox.runCode(language, code, options);
    },
    putFile: (path, data) => sandbox.putFile(path, data),
    getFile: (path) => sandbox.getFile(path),
    reset: () => sandbox.reset(),
    dispose: () => sandbox.dispose(),
  };
}

/**
 * A gate that is shown the call with its input redacted (an approval prompt is a sink like any
 * other). The request keeps the hash of the real arguments, so the decision still binds to them.
 */
export function redactingGate(gate: ApprovalGate, redactor: SecretRedactor): ApprovalGate {
  return {
    name: gate.name,
    decide: (request, signal) =>
      gate.decide({ ...request, input: redactor.redactValue(request.input) }, signal),
  };
}
