import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsBoolean, IsIn, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../webhook-events';
import { EVENT_ID_PATTERN, WEBHOOK_ID_PATTERN, WEBHOOK_SECRET_PATTERN } from '../webhook-secret';
import { MAX_URL_LENGTH } from '../webhook-url';

const EVENTS_DESCRIPTION = `The events to receive, at least one of: ${WEBHOOK_EVENT_TYPES.join(', ')}`;
const URL_DESCRIPTION =
  'Where events are POSTed: http(s), no user name or password in it; loopback, private and link-local addresses are refused ' +
  '(here and, after name resolution, at every delivery) unless WEBHOOK_ALLOW_PRIVATE=true';
const EVENTS_SCHEMA = {
  type: 'array' as const,
  items: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] },
  minItems: 1,
  maxItems: WEBHOOK_EVENT_TYPES.length,
};

export class CreateWebhookDto {
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_URL_LENGTH)
  @ApiProperty({ example: 'https://hooks.example.com/integrations', maxLength: MAX_URL_LENGTH, description: URL_DESCRIPTION })
  url!: string;

  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length)
  @IsIn(WEBHOOK_EVENT_TYPES, { each: true, message: `each value in events must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` })
  @ApiProperty({
    ...EVENTS_SCHEMA,
    example: ['integration.verification.failed', 'integration.verification.recovered'],
    description: EVENTS_DESCRIPTION,
  })
  events!: WebhookEventType[];

  @IsOptional()
  @IsString()
  @MaxLength(500)
  @ApiPropertyOptional({
    example: 'Pager on credential failures',
    maxLength: 500,
    description: 'What the endpoint is, for people (empty when left out)',
  })
  description?: string;
}

export class UpdateWebhookDto {
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_URL_LENGTH)
  @ApiPropertyOptional({ example: 'https://hooks.example.com/integrations', maxLength: MAX_URL_LENGTH, description: URL_DESCRIPTION })
  url?: string;

  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(WEBHOOK_EVENT_TYPES.length)
  @IsIn(WEBHOOK_EVENT_TYPES, { each: true, message: `each value in events must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` })
  @ApiPropertyOptional({ ...EVENTS_SCHEMA, example: ['integration.verification.failed'], description: EVENTS_DESCRIPTION })
  events?: WebhookEventType[];

  @IsOptional()
  @IsString()
  @MaxLength(500)
  @ApiPropertyOptional({ example: 'Pager on credential failures', maxLength: 500 })
  description?: string;

  @IsOptional()
  @IsBoolean()
  @ApiPropertyOptional({
    example: true,
    description: 'true re-enables an endpoint that was disabled after failing (its waiting deliveries go out again); false disables it',
  })
  enabled?: boolean;
}

/** A webhook on the wire (kebab-case); never its secret. */
export class WebhookResponse {
  @ApiProperty({ pattern: WEBHOOK_ID_PATTERN, example: 'wh-5f0c2a9d81e34b7a6c0d1e2f' })
  id!: string;

  @ApiProperty({ example: 'https://hooks.example.com/integrations' })
  url!: string;

  @ApiProperty({ type: 'array', items: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] }, example: ['integration.verification.failed'] })
  events!: WebhookEventType[];

  @ApiProperty({ example: 'Pager on credential failures' })
  description!: string;

  @ApiProperty({
    example: true,
    description: 'false when disabled, by PATCH or after failing for WEBHOOK_DISABLE_AFTER (3 days by default)',
  })
  enabled!: boolean;

  @ApiProperty({
    name: 'disabled-reason',
    type: String,
    nullable: true,
    example: null,
    description: 'Why it is disabled and what to do; null while enabled',
  })
  'disabled-reason'!: string | null;

  @ApiProperty({
    name: 'failing-since',
    type: String,
    format: 'date-time',
    nullable: true,
    example: null,
    description: 'The first failed attempt since the last success; null while it answers',
  })
  'failing-since'!: string | null;

  @ApiProperty({
    name: 'previous-secret-expires-at',
    type: String,
    format: 'date-time',
    nullable: true,
    example: null,
    description: 'Until when the secret before the last rotation still signs too; null when there is none',
  })
  'previous-secret-expires-at'!: string | null;

  @ApiProperty({ name: 'created-at', format: 'date-time', example: '2026-11-29T10:00:00.000Z' })
  'created-at'!: string;

  @ApiProperty({ name: 'updated-at', format: 'date-time', example: '2026-11-29T10:00:00.000Z' })
  'updated-at'!: string;
}

/** A webhook with its signing secret: the answer to a create or a rotation, the only ones that show it. */
export class WebhookWithSecretResponse extends WebhookResponse {
  @ApiProperty({
    pattern: WEBHOOK_SECRET_PATTERN,
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4Cz0lMWTlxQ=',
    description: 'The signing secret (Standard Webhooks format), shown only here; verify `webhook-signature` with it',
  })
  secret!: string;
}

/** One event for one endpoint. */
export class WebhookDeliveryResponse {
  @ApiProperty({
    pattern: EVENT_ID_PATTERN,
    example: 'evt_0f1e2d3c4b5a69788796a5b4',
    description: 'The event id: the `webhook-id` header of every attempt',
  })
  id!: string;

  @ApiProperty({ name: 'event-type', example: 'integration.verification.failed' })
  'event-type'!: string;

  @ApiProperty({ enum: ['pending', 'delivered', 'failed'], example: 'delivered' })
  status!: 'pending' | 'delivered' | 'failed';

  @ApiProperty({ minimum: 0, example: 1 })
  attempts!: number;

  @ApiProperty({
    name: 'last-status-code',
    type: Number,
    nullable: true,
    example: 200,
    description: 'null when the last attempt got no answer',
  })
  'last-status-code'!: number | null;

  @ApiProperty({ name: 'last-error', type: String, nullable: true, example: null, description: 'Why the last attempt failed' })
  'last-error'!: string | null;

  @ApiProperty({ name: 'last-attempt-at', type: String, format: 'date-time', nullable: true, example: '2026-11-29T10:00:01.000Z' })
  'last-attempt-at'!: string | null;

  @ApiProperty({
    name: 'next-attempt-at',
    type: String,
    format: 'date-time',
    nullable: true,
    example: null,
    description: 'When it is tried next, while pending',
  })
  'next-attempt-at'!: string | null;

  @ApiProperty({ name: 'delivered-at', type: String, format: 'date-time', nullable: true, example: '2026-11-29T10:00:01.000Z' })
  'delivered-at'!: string | null;

  @ApiProperty({ name: 'created-at', format: 'date-time', example: '2026-11-29T10:00:00.000Z' })
  'created-at'!: string;
}

/** The outcome of POST …/test. */
export class WebhookTestResponse {
  @ApiProperty({ example: true, description: 'Whether the endpoint answered 2xx' })
  ok!: boolean;

  @ApiProperty({ name: 'status-code', type: Number, nullable: true, example: 200, description: 'null when there was no answer' })
  'status-code'!: number | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'Why it failed' })
  error!: string | null;

  @ApiProperty({
    name: 'webhook-id',
    pattern: EVENT_ID_PATTERN,
    example: 'evt_0f1e2d3c4b5a69788796a5b4',
    description: 'The `webhook-id` it was sent with',
  })
  'webhook-id'!: string;

  @ApiProperty({ name: 'duration-ms', minimum: 0, example: 42 })
  'duration-ms'!: number;
}
