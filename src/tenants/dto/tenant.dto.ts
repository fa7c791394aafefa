import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
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

export class UpdateTenantDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @ApiProperty({ example: 'Acme Corp.', minLength: 1, maxLength: 200 })
  name!: string;
}

/** A tenant on the wire (kebab-case, like integrations). */
export class TenantResponse {
  @ApiProperty({ example: 'acme' })
  id!: string;

  @ApiProperty({ example: 'Acme Corporation' })
  name!: string;

  @ApiProperty({ name: 'created-at', format: 'date-time', example: '2026-11-28T10:00:00.000Z' })
  'created-at'!: string;

  @ApiProperty({ name: 'updated-at', format: 'date-time', example: '2026-11-28T10:00:00.000Z' })
  'updated-at'!: string;
}
