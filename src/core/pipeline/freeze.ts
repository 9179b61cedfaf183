/**
 * Freezes a validated tool input in place, all the way down, so that what the policy judged, the
 * gate approved and the audit recorded is what the tool receives: no hook, guard or gate holding a
 * reference can change it afterwards. Inputs are the schema parser's fresh output (plain JSON-like
 * data), so this is a short walk over the call's own arguments, never over the history.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  // A typed array with elements cannot be frozen; the arguments-hash check before execution covers it.
  if (ArrayBuffer.isView(value)) return value;
  Object.freeze(value);
  for (const key of Reflect.ownKeys(value)) {
    const d = Object.getOwnPropertyDescriptor(value, key);
    if (d && "value" in d) deepFreeze(d.value);
  }
  return value;
}
