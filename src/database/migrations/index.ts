import { InitialSchema1732752000000 } from './1732752000000-initial-schema';
import { IntegrationVerification1733961600000 } from './1733961600000-integration-verification';
import { TenantTombstones1795910400000 } from './1795910400000-tenant-tombstones';
import { ApiClients1796515200000 } from './1796515200000-api-clients';
import { IntegrationHistory1797120000000 } from './1797120000000-integration-history';
import { AuditTrail1797206400000 } from './1797206400000-audit-trail';
import { CredentialChecks1797292800000 } from './1797292800000-credential-checks';
import { Webhooks1797379200000 } from './1797379200000-webhooks';

/** Every migration, oldest first. A new one is a new file plus a line here. */
export const MIGRATIONS = [
  InitialSchema1732752000000,
  IntegrationVerification1733961600000,
  TenantTombstones1795910400000,
  ApiClients1796515200000,
  IntegrationHistory1797120000000,
  AuditTrail1797206400000,
  CredentialChecks1797292800000,
  Webhooks1797379200000,
];
