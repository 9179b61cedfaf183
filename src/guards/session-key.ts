/**
 * The key of a session's guard state: tenant and session, never one without the other. The last
 * key is remembered, since a guard sees the same session for many calls in a row.
 */
let lastTenant = "";
let lastSession = "";
let lastKey = "\u0000";

export function sessionKey(scope: { readonly tenantId: string; readonly sessionId: string }): string {
  if (scope.sessionId !== lastSession || scope.tenantId !== lastTenant) {
    lastTenant = scope.tenantId;
    lastSession = scope.sessionId;
    lastKey = `${lastTenant}\u0000${lastSession}`;
  }
  return lastKey;
}
