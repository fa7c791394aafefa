import type { LoggerService } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { isColorSupported, prettyFactory } from 'pino-pretty';
import type { AppConfig } from '../config/app.config';

/**
 * Output for a person: outside production, with stdout on a terminal. Everywhere
 * else (production, CI, tests, Docker, a pipe) logs stay JSON, one object per line.
 */
export function forPerson(app: Pick<AppConfig, 'production'>): boolean {
  return !app.production && process.stdout.isTTY === true;
}

/** Fields of the request lines (registerRequestLogging), shown in the message instead. */
const REQUEST_FIELDS = ['reqId', 'method', 'url', 'statusCode', 'responseTime'];

/** Control characters other than tab and newline: a log line must not drive the terminal. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * pino's destination on a terminal: pino-pretty's formatter, written
 * synchronously to stdout, so lines keep their order with the start-up banner
 * and none is lost at exit. Lines look like
 * `[12:04:05.120] INFO: [Database] Using sqlite:./data/integrations.sqlite`
 * and `[12:04:09.431] INFO: GET /tenants 200 3 ms  req 5c1d…`.
 */
export function prettyDestination(): DestinationStream {
  const prettify = prettyFactory({
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: ['pid', 'hostname', 'context', ...REQUEST_FIELDS].join(','),
    singleLine: true,
    messageFormat: (log, messageKey, _level, { colors }) => {
      const field = (key: string): string => {
        const value = log[key];
        return (typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value)).replace(UNSAFE, '');
      };
      if (typeof log.method === 'string' && typeof log.statusCode === 'number') {
        return `${field('method')} ${field('url')} ${log.statusCode} ${field('responseTime')} ms  ${colors.gray(`req ${field('reqId')}`)}`;
      }
      return typeof log.context === 'string' ? `${colors.gray(`[${field('context')}]`)} ${field(messageKey)}` : field(messageKey);
    },
  });
  return { write: (line: string) => void process.stdout.write(prettify(line)) };
}

const bold = (text: string): string => (isColorSupported ? `\u001b[1m${text}\u001b[22m` : text);

/**
 * The end of start-up. For a person, a short banner with the address, Swagger UI
 * and the development token alone on its line (triple-click copies exactly it).
 * Otherwise log lines: the address, and outside production the same hints (the
 * README's walkthrough relies on them). A token is given only outside production.
 */
export function announceStart(app: AppConfig, url: string, developmentToken: string | undefined, logger: LoggerService): void {
  const token = app.production ? undefined : developmentToken;
  if (!forPerson(app)) {
    logger.log(`Integrations API listening on ${url}`);
    if (token !== undefined) {
      logger.log(`Swagger UI: ${url}/docs`);
      logger.log(`Development admin token (platform:admin, 12 h): ${token}`);
    }
    return;
  }
  const lines = [
    '',
    `  ${bold('Integrations API is ready')}`,
    '',
    `  API          ${url}`,
    `  Swagger UI   ${url}/docs   (Authorize with the token below, then Try it out)`,
  ];
  if (token !== undefined) {
    lines.push('  Admin token  platform:admin, valid 12 h (`npm run -s token -- --scope …` mints others):', '', token);
  } else {
    lines.push('  Tokens       from your issuer (JWT_PUBLIC_KEY or JWT_JWKS_URL is set)');
  }
  lines.push('', '');
  process.stdout.write(lines.join('\n'));
}
