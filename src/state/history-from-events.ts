import type { ReinEvent } from "../protocol/events.js";
import type { Message, ToolResultBlock } from "../protocol/messages.js";

/**
 * Rebuilds a session's conversation from its event log: the log is the history of record, so a
 * session can be resumed in another process from its events alone
 * (`harness.session({ id, history: historyFromEvents(log.read(scope, 0)) })`).
 * Every `tool_use` gets its `tool_result` in the log, even when a run stopped mid-turn.
 */
export function historyFromEvents(events: Iterable<ReinEvent>): Message[] {
  const history: Message[] = [];
  let pending: { order: readonly string[]; results: Map<string, ToolResultBlock> } | undefined;
  const flush = () => {
    if (!pending) return;
    const content = pending.order.flatMap((id) => {
      const block = pending?.results.get(id);
      return block ? [block] : [];
    });
    if (content.length) history.push({ role: "user", content });
    pending = undefined;
  };
  for (const event of events) {
    switch (event.type) {
      case "run_started":
        flush();
        history.push({ role: "user", content: [{ type: "text", text: event.data.task }] });
        break;
      case "model_call_finished": {
        flush();
        history.push(event.data.message);
        const order = event.data.message.content.flatMap((b) => (b.type === "tool_use" ? [b.id] : []));
        if (order.length) pending = { order, results: new Map() };
        break;
      }
      case "tool_call_finished": {
        const d = event.data;
        pending?.results.set(
          d.callId,
          d.ok
            ? { type: "tool_result", tool_use_id: d.callId, content: d.content }
            : { type: "tool_result", tool_use_id: d.callId, content: d.content, is_error: true },
        );
        break;
      }
      case "run_ended":
      case "model_call_started":
        flush();
        break;
      default:
        break;
    }
  }
  flush();
  return history;
}
