import { type ArgumentMetadata, createParamDecorator, type ExecutionContext, Injectable, type PipeTransform } from '@nestjs/common';
import { HostileInputPipe } from '../common/pipes/hostile-input.pipe';
import { IntegrationBodyValidator, type IntegrationInput } from './integration-body.validator';

/** The request body is a `custom` parameter here; the hostile-input checks are those of any `@Body()`. */
const BODY: ArgumentMetadata = { type: 'body' };

interface RawIntegrationBody {
  body: unknown;
  pathId: string | undefined;
}

/**
 * The request body together with the path's `:id` (when the route has one):
 * the vendor of a body without `type` follows from its id, which may be in
 * either place. Use with IntegrationBodyPipe.
 */
export const IntegrationBody = createParamDecorator((_data: unknown, context: ExecutionContext): RawIntegrationBody => {
  const request = context.switchToHttp().getRequest<{ body?: unknown; params?: Record<string, string> }>();
  return { body: request.body, pathId: request.params?.id };
});

/**
 * The discriminated integration body (cal.com's pattern): refuses hostile input
 * first (HostileInputPipe, which global pipes apply to `@Body()` only), then
 * IntegrationBodyValidator picks the vendor's DTO class from `type` (or `id`)
 * and validates the body as that class with class-transformer + class-validator.
 */
@Injectable()
export class IntegrationBodyPipe implements PipeTransform<RawIntegrationBody, Promise<IntegrationInput>> {
  constructor(
    private readonly hostileInput: HostileInputPipe,
    private readonly validator: IntegrationBodyValidator,
  ) {}

  async transform(value: RawIntegrationBody): Promise<IntegrationInput> {
    this.hostileInput.transform(value.body, BODY);
    return this.validator.validate(value.body, value.pathId);
  }
}
