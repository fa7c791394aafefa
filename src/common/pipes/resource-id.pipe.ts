import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { ValidationFailedError } from '../errors/domain-errors';
import { isResourceId } from '../validation/resource-id';

/** Path ids (`:iid`, `:id`) follow the id rules; anything else is a 400 before any query runs. */
@Injectable()
export class ResourceIdPipe implements PipeTransform<string, string> {
  transform(value: string, metadata: ArgumentMetadata): string {
    if (!isResourceId(value)) {
      const field = metadata.data ?? 'id';
      const message = `${field} in the path must be 1-64 characters of letters, digits, ".", "_" or "-"`;
      throw new ValidationFailedError(message, [{ field, message }]);
    }
    return value;
  }
}
