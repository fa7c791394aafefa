import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, Matches, MaxLength, ValidateIf } from 'class-validator';
import { INTERVAL_MESSAGE, INTERVAL_PATTERN } from '../../integrations/verification/scheduling/check-schedule';
import { RESOURCE_ID_MESSAGE, RESOURCE_ID_PATTERN } from '../../common/validation/resource-id';

export class CreateTenantDto {
  @IsString()
  @Matches(RESOURCE_ID_PATTERN, { message: RESOURCE_ID_MESSAGE })
  @ApiProperty({ example: 'acme', pattern: RESOURCE_ID_PATTERN.source, description: 'Unique, permanent id (also after deletion)' })
  id!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @ApiProperty({ example: 'Acme Corporation', minLength: 1, maxLength: 200 })
  name!: string;
}

/** PATCH /tenants/:iid: either field or both; fields left out keep their value (at least one must be there). */
export class UpdateTenantDto {
  // Left out keeps the name; null is not a name (IsOptional would let it through to a NOT NULL column).
  @ValidateIf((_dto: UpdateTenantDto, value: unknown) => value !== undefined)
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @ApiProperty({ required: false, example: 'Acme Corp.', minLength: 1, maxLength: 200 })
  name?: string;

  // @IsOptional lets null through: null is a value here ("follow the service default").
  @IsOptional()
  @IsString({ message: INTERVAL_MESSAGE })
  @Matches(INTERVAL_PATTERN, { message: INTERVAL_MESSAGE })
  @ApiProperty({
    name: 'verify-interval',
    required: false,
    nullable: true,
    type: String,
    pattern: INTERVAL_PATTERN.source,
    example: '6h',
    description:
      "How often this tenant's stored credentials are checked again: '30s', '15m', '6h', '1d' (at most 366d); '0' turns scheduled checks off for it; null follows the service's VERIFY_INTERVAL",
  })
  'verify-interval'?: string | null;
}

/** A tenant on the wire (kebab-case, like integrations). */
export class TenantResponse {
  @ApiProperty({ example: 'acme' })
  id!: string;

  @ApiProperty({ example: 'Acme Corporation' })
  name!: string;

  @ApiProperty({
    name: 'verify-interval',
    type: String,
    nullable: true,
    example: '6h',
    description: "The tenant's own interval for scheduled credential checks ('0' = off); null when it follows the service's VERIFY_INTERVAL",
  })
  'verify-interval'!: string | null;

  @ApiProperty({ name: 'created-at', format: 'date-time', example: '2026-11-28T10:00:00.000Z' })
  'created-at'!: string;

  @ApiProperty({ name: 'updated-at', format: 'date-time', example: '2026-11-28T10:00:00.000Z' })
  'updated-at'!: string;
}
