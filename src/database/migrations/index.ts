import { InitialSchema1732752000000 } from './1732752000000-initial-schema';
import { IntegrationVerification1733961600000 } from './1733961600000-integration-verification';

/** Every migration, oldest first. A new one is a new file plus a line here. */
export const MIGRATIONS = [InitialSchema1732752000000, IntegrationVerification1733961600000];
