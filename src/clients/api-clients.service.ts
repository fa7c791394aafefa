import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { CLIENT_SCOPES, grantableScopes, Scope, type Principal } from '../auth/scopes';
import { ApiClientNotFoundError, ForbiddenError, TenantNotFoundError, ValidationFailedError } from '../common/errors/domain-errors';
import type { RequestActor } from '../common/request-actor';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { DatabaseService } from '../database/database.service';
import { TenantsService } from '../tenants/tenants.service';
import type { ApiClientEntity } from './api-client.entity';
import { hashSecret, newClientId, newClientSecret } from './client-secret';
import { ClientsRepository } from './clients.repository';
import type { ApiClientResponse, CreateApiClientDto, CreatedApiClientResponse, RotatedApiClientResponse } from './dto/api-client.dto';
import { RevocationsService } from './revocations.service';

export function toApiClientResponse(client: ApiClientEntity, now = new Date()): ApiClientResponse {
  const previous = client.previousSecretExpiresAt;
  return {
    'client-id': client.id,
    name: client.name,
    scope: client.scope,
    'created-at': client.createdAt.toISOString(),
    'secret-created-at': client.secretCreatedAt.toISOString(),
    'previous-secret-expires-at': client.previousSecretHash !== null && previous !== null && previous > now ? previous.toISOString() : null,
  };
}

/**
 * A tenant's API clients (issue 13). Whoever manages them (clients:write for
 * the tenant, or a platform admin) can give a client only scopes it holds
 * itself; a client's tokens reach only its tenant. Secrets are generated
 * here, returned once, and stored only as scrypt hashes. Creating, deleting a
 * client and rotating its secret each commit with their audit event
 * (client.create, client.delete, client.rotate-secret: the client's id, never
 * its secret).
 */
@Injectable()
export class ApiClientsService {
  constructor(
    private readonly repository: ClientsRepository,
    private readonly tenants: TenantsService,
    private readonly revocations: RevocationsService,
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  async create(tenantId: string, dto: CreateApiClientDto, creator: Principal, actor: RequestActor): Promise<CreatedApiClientResponse> {
    const scope = this.checkScope(dto.scope, creator);
    await this.tenants.requireLive(tenantId);
    const secret = newClientSecret();
    const now = new Date();
    const client: ApiClientEntity = {
      id: newClientId(),
      tenantId,
      name: dto.name,
      scope,
      secretHash: await hashSecret(secret),
      secretCreatedAt: now,
      previousSecretHash: null,
      previousSecretExpiresAt: null,
      createdBy: creator.subject.slice(0, 255),
      createdAt: now,
    };
    // The tenant may be deleted between the check and the insert: the foreign key refuses the row then.
    await this.db.transaction(async (tx) => {
      if (!(await this.repository.insert(client, tx))) throw new TenantNotFoundError(tenantId);
      await this.audit.record({ tenantId, actor, action: 'client.create', target: client.id, outcome: 201 }, tx);
    });
    return { 'client-id': client.id, 'client-secret': secret, name: client.name, scope: client.scope, 'created-at': now.toISOString() };
  }

  async list(tenantId: string, limit: number, offset: number): Promise<{ items: ApiClientResponse[]; total: number }> {
    await this.tenants.requireLive(tenantId);
    const [clients, total] = await this.repository.page(tenantId, limit, offset);
    const now = new Date();
    return { items: clients.map((client) => toApiClientResponse(client, now)), total };
  }

  async get(tenantId: string, clientId: string): Promise<ApiClientResponse> {
    return toApiClientResponse(await this.find(tenantId, clientId));
  }

  /** Deletes the client; its live tokens are refused from now on (here at once, elsewhere at the next poll). */
  async delete(tenantId: string, clientId: string, actor: RequestActor): Promise<void> {
    const now = new Date();
    const until = this.revocations.revocationEnds(now);
    const deleted = await this.db.transaction(async (tx) => {
      if (!(await this.repository.delete(tenantId, clientId, now, until, tx))) return false;
      await this.audit.record({ tenantId, actor, action: 'client.delete', target: clientId, outcome: 204 }, tx);
      return true;
    });
    if (!deleted) await this.notFound(tenantId, clientId);
    this.revocations.revokeHere(clientId, until);
  }

  /**
   * A new secret; the current one keeps working for CLIENT_SECRET_OVERLAP so
   * a deployment can roll. Rotating again within the overlap ends the older
   * secret at once: only the one just replaced stays beside the new one.
   */
  async rotateSecret(tenantId: string, clientId: string, actor: RequestActor): Promise<RotatedApiClientResponse> {
    const secret = newClientSecret();
    const hash = await hashSecret(secret);
    // A rotation racing this one makes the conditional update miss: read again and rotate what it left.
    for (let attempt = 1; ; attempt++) {
      const client = await this.find(tenantId, clientId);
      const now = new Date();
      const previousExpiresAt = new Date(now.getTime() + this.config.clients.secretOverlapSeconds * 1000);
      const landed = await this.db.transaction(async (tx) => {
        if (!(await this.repository.rotateSecret(tenantId, clientId, client.secretHash, hash, now, previousExpiresAt, tx))) return false;
        await this.audit.record({ tenantId, actor, action: 'client.rotate-secret', target: clientId, outcome: 200 }, tx);
        return true;
      });
      if (landed) {
        const rotated = {
          ...client,
          secretHash: hash,
          secretCreatedAt: now,
          previousSecretHash: client.secretHash,
          previousSecretExpiresAt: previousExpiresAt,
        };
        return { ...toApiClientResponse(rotated, now), 'client-secret': secret };
      }
      if (attempt >= 5) throw new Error(`the secret of API client '${clientId}' kept changing during its rotation`);
    }
  }

  private async find(tenantId: string, clientId: string): Promise<ApiClientEntity> {
    const client = await this.repository.find(tenantId, clientId);
    if (client === null) return this.notFound(tenantId, clientId);
    return client;
  }

  /** 404 for the tenant when it is gone, else for the client. */
  private async notFound(tenantId: string, clientId: string): Promise<never> {
    await this.tenants.requireLive(tenantId);
    throw new ApiClientNotFoundError(tenantId, clientId);
  }

  /** The scopes asked for, deduplicated in the order of CLIENT_SCOPES: 400 for what no client may hold, 403 for what the caller may not give. */
  private checkScope(requested: string, creator: Principal): string {
    const asked = new Set(requested.split(' ').filter(Boolean));
    const invalid = [...asked].filter((scope) => !(CLIENT_SCOPES as readonly string[]).includes(scope));
    if (invalid.length > 0) {
      const why = invalid.includes(Scope.PlatformAdmin)
        ? `an API client cannot hold ${Scope.PlatformAdmin}: its tokens reach only its tenant`
        : `unknown scope${invalid.length > 1 ? 's' : ''} ${invalid.map((s) => `'${s.slice(0, 64)}'`).join(', ')}; an API client may hold ${CLIENT_SCOPES.join(', ')}`;
      throw new ValidationFailedError(`Validation failed (scope: ${why})`, [{ field: 'scope', message: why }]);
    }
    const grantable = grantableScopes(creator);
    const refused = [...asked].find((scope) => !(grantable as string[]).includes(scope));
    if (refused !== undefined) throw new ForbiddenError(`This token may not grant the scope '${refused}': it does not hold it`);
    return CLIENT_SCOPES.filter((scope) => asked.has(scope)).join(' ');
  }
}
