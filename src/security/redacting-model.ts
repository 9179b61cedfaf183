import type { Model, ModelRequest, ModelResponse } from "../models/model.js";
import type { SecretRedactor } from "./redactor.js";
import { StreamRedactor } from "./stream-redactor.js";

/**
 * Wraps a model so its streamed text deltas are redacted in order, with secrets split across
 * deltas caught whole (`StreamRedactor`); what is held back is flushed before `generate` returns.
 * The response itself is returned unchanged (the event filter redacts its copy in the events).
 *
 * @example
 * const model = redactingModel(inner, new SecretRedactor());
 */
export function redactingModel(inner: Model, redactor: SecretRedactor): Model {
  return {
    id: inner.id,
    // A gateway's accounting and chain pass through unchanged.
    ...(inner.accountsAttempts !== undefined ? { accountsAttempts: inner.accountsAttempts } : {}),
    ...(inner.members !== undefined ? { members: inner.members } : {}),
    // Not an async function: a model call pays one `then` here, not an extra promise and await.
    generate(request: ModelRequest): Promise<ModelResponse> {
      const onTextDelta = request.onTextDelta;
      // Made at the first delta: most model calls of a tool loop stream no text.
      let stream: StreamRedactor | undefined;
      let pending: Promise<ModelResponse>;
      try {
        // A model that throws instead of rejecting still answers a rejected promise, as an async function would.
        if (!onTextDelta) return Promise.resolve(inner.generate(request));
        pending = Promise.resolve(
          inner.generate({
            ...request,
            onTextDelta: (delta) => {
              stream ??= new StreamRedactor(redactor);
              const out = stream.push(delta);
              if (out !== "") onTextDelta(out);
            },
          }),
        );
      } catch (err) {
        return Promise.reject(err);
      }
      return pending.then((response) => {
        const rest = stream?.flush() ?? "";
        if (rest !== "") onTextDelta(rest);
        return response;
      });
    },
  };
}
