/** Scopes a token may carry in its space-separated `scope` claim. */
export const Scope = {
  /** Tenants, and every tenant's integrations. */
  PlatformAdmin: 'platform:admin',
  IntegrationsRead: 'integrations:read',
  IntegrationsWrite: 'integrations:write',
  /** Read secrets in plaintext instead of the mask. */
  IntegrationsSecrets: 'integrations:secrets',
  /** Manage the tenant's API clients (issue 13). */
  ClientsWrite: 'clients:write',
  /** Read the tenant's audit trail (GET /tenants/:iid/audit). */
  AuditRead: 'audit:read',
  /** Read the tenant's webhooks and their deliveries (issue 15); webhooks:write includes it. */
  WebhooksRead: 'webhooks:read',
  /** Manage the tenant's webhooks: create, change, delete, rotate secrets, test, redeliver (issue 15). */
  WebhooksWrite: 'webhooks:write',
} as const;

export type ScopeName = (typeof Scope)[keyof typeof Scope];

/** Who is calling, from a verified token. */
export interface Principal {
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  /** Tenant ids the token may touch (ignored for platform admins). */
  readonly tenants: ReadonlySet<string>;
  readonly admin: boolean;
}

/** Scopes that come with another: whoever may manage webhooks may also read them. */
const IMPLIED_BY: Partial<Record<ScopeName, ScopeName>> = { [Scope.WebhooksRead]: Scope.WebhooksWrite };

export function hasScope(principal: Principal, scope: ScopeName): boolean {
  if (principal.admin || principal.scopes.has(scope)) return true;
  const implied = IMPLIED_BY[scope];
  return implied !== undefined && principal.scopes.has(implied);
}

export function mayAccessTenant(principal: Principal, tenantId: string): boolean {
  return principal.admin || principal.tenants.has(tenantId);
}

/** Whether reads show secrets in plaintext rather than masked. */
export function mayRevealSecrets(principal: Principal): boolean {
  return hasScope(principal, Scope.IntegrationsSecrets);
}

/**
 * What an API client may hold: the tenant-level scopes. Never platform:admin,
 * which would reach every tenant: a client's tokens reach only its own.
 */
export const CLIENT_SCOPES: readonly ScopeName[] = [Scope.IntegrationsRead, Scope.IntegrationsWrite, Scope.IntegrationsSecrets, Scope.ClientsWrite, Scope.AuditRead, Scope.WebhooksRead, Scope.WebhooksWrite];

/** The scopes a caller may put in a client it creates: all client scopes for an admin, otherwise those it holds itself. */
export function grantableScopes(principal: Principal): ScopeName[] {
  return CLIENT_SCOPES.filter((scope) => principal.admin || principal.scopes.has(scope));
}
