import { DomainError } from '../../common/errors/domain-errors';
import { displayId } from '../../common/validation/resource-id';

export class VersionNotFoundError extends DomainError {
  readonly status = 404;
  readonly code = 'VERSION_NOT_FOUND';
  constructor(integrationId: string, revision: number) {
    super(`Version ${revision} of integration '${displayId(integrationId)}' does not exist (never made, or pruned)`);
  }
}

/** A restore of the version a delete made: it has no content to bring back. */
export class NothingToRestoreError extends DomainError {
  readonly status = 409;
  readonly code = 'NOTHING_TO_RESTORE';
  constructor(integrationId: string, revision: number) {
    super(
      `Version ${revision} of integration '${displayId(integrationId)}' is its deletion and holds nothing to restore; restore an earlier version`,
    );
  }
}
