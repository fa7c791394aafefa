import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { ValidationFailedError } from '../../common/errors/domain-errors';

/** The largest revision the column holds (a signed 32-bit int). */
export const MAX_REVISION = 2_147_483_647;

export const revisionMessage = (field: string): string =>
  `${field} in the path must be a version number: an integer from 1 to ${MAX_REVISION}`;

/** `:rev` of the history routes: a positive decimal integer, else a 400 before any query runs. */
@Injectable()
export class RevisionPipe implements PipeTransform<string, number> {
  transform(value: string, metadata: ArgumentMetadata): number {
    const revision = /^[1-9]\d{0,9}$/.test(value) ? Number(value) : NaN;
    if (!(revision <= MAX_REVISION)) {
      const field = metadata.data ?? 'rev';
      throw new ValidationFailedError(revisionMessage(field), [{ field, message: revisionMessage(field) }]);
    }
    return revision;
  }
}
