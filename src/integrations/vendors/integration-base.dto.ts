import { IsString, Matches, MaxLength, ValidateIf } from 'class-validator';
import { RESOURCE_ID_MESSAGE, RESOURCE_ID_PATTERN } from '../../common/validation/resource-id';

/** Longest `id` a body may carry: ids are 1-64 characters (RESOURCE_ID_PATTERN). */
export const MAX_ID_LENGTH = 64;

/**
 * What every integration body may carry besides its vendor fields. `id` may be
 * left out when the path names it; `type` may be left out when `id` is itself a
 * vendor type (the original Twilio example sends no `type`).
 */
export abstract class IntegrationBaseDto {
  @ValidateIf((_object: object, value: unknown) => value !== undefined)
  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  @Matches(RESOURCE_ID_PATTERN, { message: RESOURCE_ID_MESSAGE })
  id?: string;

  @ValidateIf((_object: object, value: unknown) => value !== undefined)
  @IsString()
  type?: string;
}
