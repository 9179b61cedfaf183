/** The key of a session's guard state: tenant and session, never one without the other. */
export function sessionKey(scope: { readonly tenantId: string; readonly sessionId: string }): string {
  return `${scope.tenantId}\u0000${scope.sessionId}`;
}
