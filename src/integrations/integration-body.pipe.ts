import { createParamDecorator, type ExecutionContext, Injectable, type PipeTransform } from '@nestjs/common';
import { IntegrationBodyValidator, type IntegrationInput } from './integration-body.validator';

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

/** Validates an integration body against the DTO of the vendor its `type` names. */
@Injectable()
export class IntegrationBodyPipe implements PipeTransform<RawIntegrationBody, Promise<IntegrationInput>> {
  constructor(private readonly validator: IntegrationBodyValidator) {}

  transform(value: RawIntegrationBody): Promise<IntegrationInput> {
    return this.validator.validate(value.body, value.pathId);
  }
}
