import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ActsOnTenant, RequireScope } from '../auth/auth.decorators';
import { Scope } from '../auth/scopes';
import { ApiErrors, ERR, ID_SCHEMA, responseHeaders } from '../common/openapi';
import { ApiPageQuery, Page, type PageQuery } from '../common/pagination';
import { ResourceIdPipe } from '../common/pipes/resource-id.pipe';
import { Actor, type RequestActor } from '../common/request-actor';
import {
  CreateWebhookDto,
  UpdateWebhookDto,
  WebhookDeliveryResponse,
  WebhookResponse,
  WebhookTestResponse,
  WebhookWithSecretResponse,
} from './dto/webhook.dto';
import { WEBHOOK_ERRORS as E } from './webhooks.openapi';
import { WebhooksService } from './webhooks.service';

const WEBHOOK_ID = { name: 'id', description: 'Webhook id', example: 'wh-5f0c2a9d81e34b7a6c0d1e2f', schema: ID_SCHEMA };
const DELIVERY_ID = {
  name: 'deliveryId',
  description: 'Delivery id: the event id, sent as `webhook-id`',
  example: 'evt_0f1e2d3c4b5a69788796a5b4',
  schema: ID_SCHEMA,
};
const WRITE_FORBIDDEN = 'The token lacks webhooks:write, or the tenant is not among its tenants';
const READ_FORBIDDEN = 'The token lacks webhooks:read (or webhooks:write), or the tenant is not among its tenants';
const BODY_ERRORS = { 413: [ERR.tooLarge], 415: [ERR.notJson] };

/**
 * A tenant's webhooks (issue 15): endpoints that receive signed events
 * (Standard Webhooks) when its integrations change or their credentials
 * break or recover. Managed with webhooks:write; read with webhooks:read or
 * webhooks:write (or as a platform admin). The signing secret is shown only
 * by the create and by a rotation.
 */
@ApiTags('webhooks')
@ApiBearerAuth()
@ApiParam({ name: 'iid', description: 'Tenant id', schema: ID_SCHEMA })
@Controller('tenants/:iid/webhooks')
@ActsOnTenant('iid')
@RequireScope(Scope.WebhooksWrite)
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({
    summary: 'Register an endpoint; its signing secret is shown once',
    description:
      'Events are POSTed as JSON `{"type", "timestamp", "data"}` with the Standard Webhooks headers `webhook-id`, `webhook-timestamp` and ' +
      '`webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under the secret). Delivered at least once: receivers drop ' +
      'duplicates by `webhook-id`. Failed deliveries are retried with exponential backoff for WEBHOOK_RETRY_FOR (24 h).',
  })
  @ApiResponse({
    status: 201,
    description: 'Registered; `secret` appears only here (and in a rotation)',
    type: WebhookWithSecretResponse,
    headers: responseHeaders('Cache-Control'),
  })
  @ApiErrors(
    {
      400: [
        E.badIid,
        ERR.badUrl,
        E.scheme,
        E.credentials,
        E.privateAddress,
        E.unknownEvent,
        E.missingEvents,
        E.unknownField,
        ERR.malformedJson,
        ERR.emptyBody,
      ],
      403: [E.webhooksWrite, ERR.foreignTenant],
      404: [E.tenant],
      ...BODY_ERRORS,
    },
    { descriptions: { 403: WRITE_FORBIDDEN }, audited: 'change' },
  )
  create(@Param('iid') iid: string, @Body() dto: CreateWebhookDto, @Actor() actor: RequestActor): Promise<WebhookWithSecretResponse> {
    return this.webhooks.create(iid, dto, actor);
  }

  @Get()
  @RequireScope(Scope.WebhooksRead)
  @ApiOperation({ summary: "The tenant's webhooks, oldest first (no secrets)" })
  @ApiResponse({
    status: 200,
    description: 'The webhooks; X-Total-Count is the number in all pages',
    schema: { type: 'array', items: { $ref: '#/components/schemas/WebhookResponse' } },
    headers: responseHeaders('X-Total-Count'),
  })
  @ApiPageQuery()
  @ApiErrors(
    { 400: [E.badIid, ERR.badUrl, ERR.badPage], 403: [E.webhooksRead, ERR.foreignTenant], 404: [E.tenant] },
    { descriptions: { 403: READ_FORBIDDEN } },
  )
  async list(
    @Param('iid') iid: string,
    @Page() page: PageQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookResponse[]> {
    const { items, total } = await this.webhooks.list(iid, page.limit, page.offset);
    reply.header('x-total-count', String(total));
    return items;
  }

  @Get(':id')
  @RequireScope(Scope.WebhooksRead)
  @ApiOperation({ summary: 'One webhook (no secret): whether it is enabled, why not, and since when it fails' })
  @ApiParam(WEBHOOK_ID)
  @ApiResponse({ status: 200, description: 'The webhook', type: WebhookResponse, headers: responseHeaders() })
  @ApiErrors(
    { 400: [E.badIid, ERR.badUrl, E.badId], 403: [E.webhooksRead, ERR.foreignTenant], 404: [E.tenant, E.webhook] },
    { descriptions: { 403: READ_FORBIDDEN } },
  )
  get(@Param('iid') iid: string, @Param('id', ResourceIdPipe) id: string): Promise<WebhookResponse> {
    return this.webhooks.get(iid, id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change the URL, events or description, or enable/disable it',
    description: '`{"enabled": true}` re-enables an endpoint disabled after failing; the deliveries that waited meanwhile go out.',
  })
  @ApiParam(WEBHOOK_ID)
  @ApiResponse({ status: 200, description: 'The webhook as changed', type: WebhookResponse, headers: responseHeaders() })
  @ApiErrors(
    {
      400: [
        E.badIid,
        ERR.badUrl,
        E.badId,
        E.scheme,
        E.credentials,
        E.privateAddress,
        E.unknownEvent,
        E.unknownField,
        ERR.malformedJson,
        ERR.emptyBody,
      ],
      403: [E.webhooksWrite, ERR.foreignTenant],
      404: [E.tenant, E.webhook],
      ...BODY_ERRORS,
    },
    { descriptions: { 403: WRITE_FORBIDDEN }, audited: 'change' },
  )
  update(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Body() dto: UpdateWebhookDto,
    @Actor() actor: RequestActor,
  ): Promise<WebhookResponse> {
    return this.webhooks.update(iid, id, dto, actor);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a webhook and its deliveries (none is sent any more)' })
  @ApiParam(WEBHOOK_ID)
  @ApiResponse({ status: 204, description: 'Deleted; no body', headers: responseHeaders() })
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.badId, ERR.malformedJson],
      403: [E.webhooksWrite, ERR.foreignTenant],
      404: [E.tenant, E.webhook],
      ...BODY_ERRORS,
    },
    { descriptions: { 403: WRITE_FORBIDDEN }, audited: 'change' },
  )
  async delete(@Param('iid') iid: string, @Param('id', ResourceIdPipe) id: string, @Actor() actor: RequestActor): Promise<void> {
    await this.webhooks.delete(iid, id, actor);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate the signing secret: a new one, shown once',
    description:
      'The secret it replaces keeps signing too until `previous-secret-expires-at` (WEBHOOK_SECRET_OVERLAP, 24 h by default): ' +
      '`webhook-signature` then carries two space-separated `v1,` signatures, so the receiver can switch at its own pace.',
  })
  @ApiParam(WEBHOOK_ID)
  @ApiResponse({
    status: 200,
    description: 'The webhook with its new secret',
    type: WebhookWithSecretResponse,
    headers: responseHeaders('Cache-Control'),
  })
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.badId, ERR.malformedJson, ERR.emptyBody],
      403: [E.webhooksWrite, ERR.foreignTenant],
      404: [E.tenant, E.webhook],
      ...BODY_ERRORS,
    },
    { descriptions: { 403: WRITE_FORBIDDEN }, audited: 'change' },
  )
  rotateSecret(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Actor() actor: RequestActor,
  ): Promise<WebhookWithSecretResponse> {
    return this.webhooks.rotateSecret(iid, id, actor);
  }

  @Post(':id/test')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a `webhook.test` event to the endpoint now, and say how it answered',
    description: 'Signed and sent like every delivery (same checks, timeout, no redirects); nothing is stored or retried.',
  })
  @ApiParam(WEBHOOK_ID)
  @ApiResponse({
    status: 200,
    description: 'The attempt: `ok` when it answered 2xx',
    type: WebhookTestResponse,
    headers: responseHeaders(),
  })
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.badId, ERR.malformedJson, ERR.emptyBody],
      403: [E.webhooksWrite, ERR.foreignTenant],
      404: [E.tenant, E.webhook],
      ...BODY_ERRORS,
    },
    { descriptions: { 403: WRITE_FORBIDDEN } },
  )
  test(@Param('iid') iid: string, @Param('id', ResourceIdPipe) id: string): Promise<WebhookTestResponse> {
    return this.webhooks.test(iid, id);
  }

  @Get(':id/deliveries')
  @RequireScope(Scope.WebhooksRead)
  @ApiOperation({ summary: "The endpoint's deliveries, newest first: status, attempts, last answer" })
  @ApiParam(WEBHOOK_ID)
  @ApiResponse({
    status: 200,
    description: 'The deliveries; X-Total-Count is the number in all pages',
    schema: { type: 'array', items: { $ref: '#/components/schemas/WebhookDeliveryResponse' } },
    headers: responseHeaders('X-Total-Count'),
  })
  @ApiPageQuery()
  @ApiErrors(
    { 400: [E.badIid, ERR.badUrl, E.badId, ERR.badPage], 403: [E.webhooksRead, ERR.foreignTenant], 404: [E.tenant, E.webhook] },
    { descriptions: { 403: READ_FORBIDDEN } },
  )
  async deliveries(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Page() page: PageQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookDeliveryResponse[]> {
    const { items, total } = await this.webhooks.listDeliveries(iid, id, page.limit, page.offset);
    reply.header('x-total-count', String(total));
    return items;
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Queue a delivery again',
    description:
      'Whatever its status, it becomes pending and due now, retried for WEBHOOK_RETRY_FOR from now; the worker sends it with the same ' +
      '`webhook-id`. Answered 202: it is queued, not yet sent.',
  })
  @ApiParam(WEBHOOK_ID)
  @ApiParam(DELIVERY_ID)
  @ApiResponse({
    status: 202,
    description: 'Queued; the delivery as it now stands',
    type: WebhookDeliveryResponse,
    headers: responseHeaders(),
  })
  @ApiErrors(
    {
      400: [E.badIid, ERR.badUrl, E.badId, E.badDeliveryId, ERR.malformedJson, ERR.emptyBody],
      403: [E.webhooksWrite, ERR.foreignTenant],
      404: [E.tenant, E.webhook, E.delivery],
      ...BODY_ERRORS,
    },
    { descriptions: { 403: WRITE_FORBIDDEN }, audited: 'change' },
  )
  redeliver(
    @Param('iid') iid: string,
    @Param('id', ResourceIdPipe) id: string,
    @Param('deliveryId', ResourceIdPipe) deliveryId: string,
    @Actor() actor: RequestActor,
  ): Promise<WebhookDeliveryResponse> {
    return this.webhooks.redeliver(iid, id, deliveryId, actor);
  }
}
