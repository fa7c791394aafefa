import type { IntegrationWire } from '../wire-format';
import type { VersionAction } from './integration-version.entity';

/** A kept version as the history routes answer it: flat, kebab-case, the integration in the usual wire format. */
export interface VersionWire {
  revision: number;
  action: VersionAction;
  /** The token's `sub` of whoever wrote it. */
  actor: string;
  'request-id': string | null;
  'created-at': string;
  'restored-from': number | null;
  deleted: boolean;
  /** The integration as it was after this write (secrets masked unless revealed); left out for a delete. */
  integration?: IntegrationWire;
}
