import type { Message } from "../../protocol/messages.js";

/** The provider-format copy of one conversation, grown as the conversation grows. */
export interface WireHistory<W> {
  /** The converted messages (a provider may keep a fixed head, e.g. a system message, at index 0). */
  readonly wire: W[];
  /** How many of the conversation's messages are converted. */
  count: number;
  /** The last converted message, to notice a history that was replaced rather than appended to. */
  last: Message | undefined;
  /** Tool-call ids already in the conversation (providers that must invent or repair ids keep them unique). */
  readonly toolIds: Set<string>;
  /** Which head the wire array was built with (e.g. with or without a system message). */
  readonly variant: number;
}

/**
 * Converts a conversation to a provider's wire format incrementally: the converted array is kept per
 * history array (a WeakMap, so it goes when the session does) and only the messages the last step
 * added are converted. The loop appends to the history in place, so each call costs O(new messages);
 * the SDK's own serialisation is the only O(history) work left.
 */
export class IncrementalHistory<W> {
  readonly #states = new WeakMap<readonly Message[], WireHistory<W>>();

  constructor(
    private readonly convert: (message: Message, state: WireHistory<W>) => void,
    private readonly head: (variant: number) => W[] = () => [],
  ) {}

  /** The wire history for `messages`, converted up to its end. `variant` picks the head (rebuilt if it changes). */
  of(messages: readonly Message[], variant = 0): WireHistory<W> {
    let state = this.#states.get(messages);
    // A shorter history, a different message where the last converted one was, or another head: start over.
    if (
      state &&
      (state.variant !== variant ||
        state.count > messages.length ||
        (state.count > 0 && messages[state.count - 1] !== state.last))
    ) {
      state = undefined;
    }
    if (!state) {
      state = { wire: this.head(variant), count: 0, last: undefined, toolIds: new Set(), variant };
      this.#states.set(messages, state);
    }
    for (let i = state.count; i < messages.length; i++) {
      const message = messages[i] as Message;
      this.convert(message, state);
      state.last = message;
    }
    state.count = messages.length;
    return state;
  }
}
