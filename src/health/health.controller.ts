import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags, type SchemaObject } from '@nestjs/swagger';
import { HealthCheckService, type HealthCheckResult, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/auth.decorators';
import { DatabaseUnavailableError } from '../common/errors/domain-errors';
import { ApiErrors, responseHeaders } from '../common/openapi';

/** Terminus' per-indicator map: `{ "database": { "status": "up" } }`. */
const INDICATORS: SchemaObject = {
  type: 'object',
  additionalProperties: { type: 'object', required: ['status'], properties: { status: { type: 'string' } }, additionalProperties: true },
};

const READY_TIMEOUT_MS = 2000;

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers (does not touch the database)' })
  @ApiResponse({
    status: 200,
    description: 'The process answers',
    headers: responseHeaders(),
    schema: {
      type: 'object',
      required: ['status'],
      additionalProperties: false,
      properties: { status: { type: 'string', enum: ['ok'] } },
      example: { status: 'ok' },
    },
  })
  @ApiErrors({}, { auth: false, database: false })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the database answers a ping' })
  @ApiResponse({
    status: 200,
    description: 'The database answers',
    headers: responseHeaders(),
    schema: {
      type: 'object',
      required: ['status'],
      additionalProperties: false,
      properties: { status: { type: 'string', enum: ['ok'] }, info: INDICATORS, error: INDICATORS, details: INDICATORS },
      example: { status: 'ok', info: { database: { status: 'up' } }, error: {}, details: { database: { status: 'up' } } },
    },
  })
  @ApiErrors({}, { auth: false })
  async ready(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([() => this.database.pingCheck('database', { timeout: READY_TIMEOUT_MS })]);
    } catch {
      throw new DatabaseUnavailableError();
    }
  }
}
