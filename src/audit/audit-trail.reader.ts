import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { AUDIT_UNAVAILABLE_MESSAGES, TenantNotFoundError } from '../common/errors/domain-errors';
import type { RequestActor } from '../common/request-actor';
import { TenantsService } from '../tenants/tenants.service';
import { PLATFORM_CHAIN } from './audit-chain';
import { AUDIT_LIMIT, type AuditQuery, encodeCursor } from './audit-query';
import type { EventFilter } from './audit.repository';
import { AuditService } from './audit.service';
import { type AuditPageWire, toAuditWire } from './audit.wire';

/** Rows per query of an NDJSON export: what it holds in memory at most. */
const EXPORT_PAGE = 500;

/**
 * GET /tenants/:iid/audit and GET /platform/audit. Reading a trail is itself
 * recorded (`audit.read`, before anything is read). A page ends at the
 * chain's head as it was when the first page was read (the cursor carries
 * it), so paging ends although every read appends an event.
 */
@Injectable()
export class AuditTrailReader {
  constructor(
    private readonly audit: AuditService,
    private readonly tenants: TenantsService,
  ) {}

  /**
   * 404 only for a tenant that never existed: the trail of a deleted tenant
   * stays readable (who may read it is the guard's rule, as for a live one).
   */
  async requireTrail(chain: string): Promise<void> {
    if (chain === PLATFORM_CHAIN || (await this.tenants.hasExisted(chain)) || (await this.audit.chainExists(chain))) return;
    throw new TenantNotFoundError(chain);
  }

  async page(chain: string, query: AuditQuery, actor: RequestActor): Promise<AuditPageWire> {
    const filter = await this.open(chain, query, actor, 'page');
    const limit = query.limit ?? AUDIT_LIMIT.fallback;
    const rows = await this.audit.find(chain, filter, limit + 1);
    const events = rows.slice(0, limit);
    const more = rows.length > limit;
    return {
      events: events.map(toAuditWire),
      'next-cursor': more ? encodeCursor({ after: events[events.length - 1].seq, upTo: filter.upToSeq }) : null,
    };
  }

  /**
   * The whole filtered range as NDJSON, one event per line, read in pages as
   * the client takes them. The first page is read before the answer starts,
   * so a failure then is an ordinary error answer; one later cuts the
   * connection (a truncated export must not look complete).
   */
  async export(chain: string, query: AuditQuery, actor: RequestActor): Promise<Readable> {
    const filter = await this.open(chain, query, actor, 'export');
    let remaining = query.limit ?? Number.POSITIVE_INFINITY;
    const first = await this.audit.find(chain, filter, Math.min(EXPORT_PAGE, remaining));
    const audit = this.audit;
    async function* lines(): AsyncGenerator<string> {
      let rows = first;
      for (;;) {
        if (rows.length === 0) return;
        yield rows.map((row) => `${JSON.stringify(toAuditWire(row))}\n`).join('');
        remaining -= rows.length;
        if (rows.length < EXPORT_PAGE || remaining <= 0) return;
        rows = await audit.find(chain, { ...filter, afterSeq: rows[rows.length - 1].seq }, Math.min(EXPORT_PAGE, remaining));
      }
    }
    return Readable.from(lines(), { objectMode: false });
  }

  private async open(chain: string, query: AuditQuery, actor: RequestActor, target: 'page' | 'export'): Promise<EventFilter> {
    await this.requireTrail(chain);
    const read = await this.audit.record(
      { tenantId: chain, actor, action: 'audit.read', target, outcome: 200 },
      undefined,
      AUDIT_UNAVAILABLE_MESSAGES.read,
    );
    return { afterSeq: query.cursor?.after ?? 0, upToSeq: query.cursor?.upTo ?? read.seq, since: query.since, action: query.action };
  }
}
