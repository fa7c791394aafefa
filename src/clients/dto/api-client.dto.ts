import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
import { CLIENT_SCOPES } from '../../auth/scopes';
import { CLIENT_ID_PATTERN, CLIENT_SCOPE_PATTERN, CLIENT_SECRET_PATTERN } from '../clients.openapi';

export class CreateApiClientDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @ApiProperty({ example: 'Billing sync', minLength: 1, maxLength: 200, description: 'What the client is, for people' })
  name!: string;

  @IsString()
  @MaxLength(500)
  @Matches(/\S/, { message: 'scope must name at least one scope' })
  @ApiProperty({
    example: 'integrations:read integrations:secrets',
    maxLength: 500,
    pattern: CLIENT_SCOPE_PATTERN,
    description:
      `Space-separated scopes its tokens may carry: ${CLIENT_SCOPES.join(', ')} — ` +
      'only scopes the caller holds itself (a platform admin may grant them all; 403 otherwise), never platform:admin',
  })
  scope!: string;
}

/** An API client on the wire (kebab-case, like tenants and integrations); never its secret. */
export class ApiClientResponse {
  @ApiProperty({ name: 'client-id', pattern: CLIENT_ID_PATTERN, example: 'ic-5f0c2a9d81e34b7a6c0d1e2f' })
  'client-id'!: string;

  @ApiProperty({ example: 'Billing sync' })
  name!: string;

  @ApiProperty({ example: 'integrations:read integrations:secrets' })
  scope!: string;

  @ApiProperty({ name: 'created-at', format: 'date-time', example: '2026-11-29T10:00:00.000Z' })
  'created-at'!: string;

  @ApiProperty({
    name: 'secret-created-at',
    format: 'date-time',
    example: '2026-11-29T10:00:00.000Z',
    description: 'When the current secret was made',
  })
  'secret-created-at'!: string;

  @ApiProperty({
    name: 'previous-secret-expires-at',
    type: String,
    format: 'date-time',
    nullable: true,
    example: null,
    description: 'Until when the secret before the last rotation keeps working; null when there is none (or it has stopped)',
  })
  'previous-secret-expires-at'!: string | null;
}

/** The answer to a create: the secret, shown this once. */
export class CreatedApiClientResponse {
  @ApiProperty({ name: 'client-id', pattern: CLIENT_ID_PATTERN, example: 'ic-5f0c2a9d81e34b7a6c0d1e2f' })
  'client-id'!: string;

  @ApiProperty({
    name: 'client-secret',
    pattern: CLIENT_SECRET_PATTERN,
    example: 'ics-3q2-7wEvbAq0Jl5rQ1n0xZpV3m9yH6tC8dK4sF2gB1a',
    description: 'Shown once, here: only a hash of it is kept. 256 random bits.',
  })
  'client-secret'!: string;

  @ApiProperty({ example: 'Billing sync' })
  name!: string;

  @ApiProperty({ example: 'integrations:read integrations:secrets' })
  scope!: string;

  @ApiProperty({ name: 'created-at', format: 'date-time', example: '2026-11-29T10:00:00.000Z' })
  'created-at'!: string;
}

/** The answer to a secret rotation: the client with its new secret, shown this once. */
export class RotatedApiClientResponse extends ApiClientResponse {
  @ApiProperty({
    name: 'client-secret',
    pattern: CLIENT_SECRET_PATTERN,
    example: 'ics-3q2-7wEvbAq0Jl5rQ1n0xZpV3m9yH6tC8dK4sF2gB1a',
    description: 'The new secret, shown once',
  })
  'client-secret'!: string;
}
