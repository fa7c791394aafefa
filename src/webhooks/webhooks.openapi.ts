import {
  TenantNotFoundError,
  ValidationFailedError,
  WebhookDeliveryNotFoundError,
  WebhookNotFoundError,
} from '../common/errors/domain-errors';
import { ERR, exampleOf, type ErrorExample } from '../common/openapi';
import { WEBHOOK_EVENT_TYPES } from './webhook-events';
import { urlProblem } from './webhook-url';

/*
 * The OpenAPI side of issue 15's webhook routes, in issue 17's conventions:
 * every error case with the message the service really sends (the URL
 * refusals are urlProblem's own words).
 */

const urlRefusal = (summary: string, url: string): ErrorExample => {
  const problem = urlProblem(url, false)!;
  return exampleOf(summary, new ValidationFailedError(`Validation failed (url: ${problem})`, [{ field: 'url', message: problem }]));
};

const EVENTS_MESSAGE = `each value in events must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}`;

export const WEBHOOK_ERRORS = {
  badIid: ERR.badPathId('iid'),
  badId: ERR.badPathId('id'),
  badDeliveryId: ERR.badPathId('deliveryId'),
  webhooksWrite: ERR.lacksScope('webhooks:write'),
  webhooksRead: ERR.lacksScope('webhooks:read'),
  tenant: exampleOf('no such tenant', new TenantNotFoundError('acme')),
  webhook: exampleOf('no such webhook', new WebhookNotFoundError('acme', 'wh-5f0c2a9d81e34b7a6c0d1e2f')),
  delivery: exampleOf('no such delivery', new WebhookDeliveryNotFoundError('wh-5f0c2a9d81e34b7a6c0d1e2f', 'evt_0f1e2d3c4b5a69788796a5b4')),
  scheme: urlRefusal('not http(s)', 'ftp://hooks.example.com/integrations'),
  credentials: urlRefusal('credentials in the URL', 'https://user:password@hooks.example.com/integrations'),
  privateAddress: urlRefusal('a private address', 'http://10.0.0.5/integrations'),
  unknownEvent: exampleOf(
    'unknown event type',
    new ValidationFailedError('Validation failed (events)', [{ field: 'events', message: EVENTS_MESSAGE }]),
  ),
  missingEvents: exampleOf(
    'missing events',
    new ValidationFailedError('Validation failed (missing or invalid: events)', [
      {
        field: 'events',
        message: `${EVENTS_MESSAGE}; events must contain no more than ${WEBHOOK_EVENT_TYPES.length} elements; events should not be empty; events must be an array`,
      },
    ]),
  ),
  unknownField: exampleOf(
    'unknown field',
    new ValidationFailedError('Validation failed (unknown field: secret)', [
      { field: 'secret', message: 'property secret should not exist' },
    ]),
  ),
} satisfies Record<string, ErrorExample>;
