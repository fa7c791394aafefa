import { InitialSchema1732752000000 } from './1732752000000-initial-schema';

/** Every migration, oldest first. A new one is a new file plus a line here. */
export const MIGRATIONS = [InitialSchema1732752000000];
