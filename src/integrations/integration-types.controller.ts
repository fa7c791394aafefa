import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, responseHeaders } from '../common/openapi';
import { INTEGRATION_TYPE_REF } from './integrations.openapi';
import { allVendors, jsonSchemaOf } from './vendors/registry';

export interface IntegrationTypeDescription {
  type: string;
  title: string;
  description: string;
  'secret-fields': string[];
  'required-fields': string[];
  schema: Record<string, unknown>;
}

/** Computed once from the registry: it cannot change while the process runs. */
const TYPES: IntegrationTypeDescription[] = allVendors().map((vendor) => ({
  type: vendor.type,
  title: vendor.title,
  description: vendor.description,
  'secret-fields': vendor.fields.filter((f) => f.secret).map((f) => f.name),
  'required-fields': vendor.fields.filter((f) => f.required).map((f) => f.name),
  schema: jsonSchemaOf(vendor),
}));

@ApiTags('integrations')
@ApiBearerAuth()
@Controller('integration-types')
export class IntegrationTypesController {
  @Get()
  @ApiOperation({ summary: 'Each vendor type with the JSON Schema of its fields and which are secret' })
  @ApiResponse({
    status: 200,
    description: 'One entry per vendor type',
    schema: { type: 'array', items: INTEGRATION_TYPE_REF },
    headers: responseHeaders(),
  })
  // Answered from memory: no database, so no 503.
  @ApiErrors({}, { database: false })
  list(): IntegrationTypeDescription[] {
    return TYPES;
  }
}
