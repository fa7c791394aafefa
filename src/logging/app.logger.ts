import { Inject, Injectable } from '@nestjs/common';
import { Logger, PARAMS_PROVIDER_TOKEN, PinoLogger, type Params } from 'nestjs-pino';

/**
 * Nest's own start-up lines: one per module, controller and route, then "starting" and
 * "started". Useful when wiring goes wrong, noise every other time.
 */
const NEST_STARTUP_CONTEXTS: ReadonlySet<string> = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * The application's logger: nestjs-pino's, with Nest's start-up lines moved from
 * info to debug, so a start shows what this service has to say (database,
 * migrations, address) and `LOG_LEVEL=debug` still shows the wiring.
 */
@Injectable()
export class AppLogger extends Logger {
  constructor(logger: PinoLogger, @Inject(PARAMS_PROVIDER_TOKEN) params: Params) {
    super(logger, params);
  }

  override log(message: unknown, ...optionalParams: unknown[]): void {
    // Nest passes the context as the last argument.
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && NEST_STARTUP_CONTEXTS.has(context)) this.debug(message, ...optionalParams);
    else super.log(message, ...optionalParams);
  }
}
