import { Writable } from 'node:stream';
import { stripVTControlCharacters as plain } from 'node:util';
import { Test } from '@nestjs/testing';
import { LoggerModule } from 'nestjs-pino';
import { AppLogger } from './app.logger';
import { announceStart, prettyDestination } from './terminal';

/** An AppLogger over a pino that writes JSON lines into `lines`. */
async function appLogger(lines: Record<string, unknown>[]): Promise<AppLogger> {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const moduleRef = await Test.createTestingModule({
    imports: [LoggerModule.forRoot({ pinoHttp: [{ level: 'debug' }, sink], forRoutes: [] })],
    providers: [AppLogger],
  }).compile();
  return moduleRef.get(AppLogger);
}

describe('AppLogger', () => {
  it("moves Nest's start-up lines to debug and keeps the service's own at info", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = await appLogger(lines);
    logger.log('Mapped {/tenants, GET} route', 'RouterExplorer');
    logger.log('TenantsModule dependencies initialized', 'InstanceLoader');
    logger.log('Nest application successfully started', 'NestApplication');
    logger.log('Using sqlite:data/integrations.sqlite', 'Database');
    logger.warn('a query took 1200 ms', 'Database');
    expect(lines.map(({ level, context, msg }) => [level, context, msg])).toEqual([
      [20, 'RouterExplorer', 'Mapped {/tenants, GET} route'],
      [20, 'InstanceLoader', 'TenantsModule dependencies initialized'],
      [20, 'NestApplication', 'Nest application successfully started'],
      [30, 'Database', 'Using sqlite:data/integrations.sqlite'],
      [40, 'Database', 'a query took 1200 ms'],
    ]);
  });
});

describe('terminal output', () => {
  let written: string;
  let isTTY: boolean | undefined;
  beforeEach(() => {
    written = '';
    isTTY = process.stdout.isTTY;
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written += chunk.toString();
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.stdout.isTTY = isTTY as boolean;
  });

  it('shows a request line as method, URL, status, time and request id, and strips control characters', () => {
    const destination = prettyDestination();
    const line = {
      level: 30,
      time: 0,
      pid: 1,
      hostname: 'h',
      reqId: 'r-1',
      method: 'GET',
      url: '/x\u001b[2J',
      statusCode: 200,
      responseTime: 3,
    };
    destination.write(`${JSON.stringify({ ...line, msg: 'request completed' })}\n`);
    destination.write(`${JSON.stringify({ level: 30, time: 0, context: 'Database', msg: 'Using \u0007sqlite' })}\n`);
    const [request, database] = plain(written).trimEnd().split('\n');
    expect(request).toMatch(/INFO: GET \/x\[2J 200 3 ms {2}req r-1$/);
    expect(database).toMatch(/INFO: \[Database\] Using sqlite$/);
  });

  it('ends start-up on a terminal with a banner whose token stands alone on its line', () => {
    process.stdout.isTTY = true;
    const logger = { log: jest.fn(), error: jest.fn(), warn: jest.fn() };
    announceStart({ production: false } as never, 'http://localhost:3000', 'eyJ.token.sig', logger);
    const lines = plain(written).split('\n');
    expect(lines).toContain('eyJ.token.sig');
    expect(lines.some((l) => /Swagger UI +http:\/\/localhost:3000\/docs/.test(l))).toBe(true);
    expect(logger.log).not.toHaveBeenCalled();
  });

  it('logs the same hints as plain lines when stdout is not a terminal, and never a token in production', () => {
    process.stdout.isTTY = false;
    const logger = { log: jest.fn(), error: jest.fn(), warn: jest.fn() };
    announceStart({ production: false } as never, 'http://localhost:3000', 'eyJ.token.sig', logger);
    expect(logger.log.mock.calls.map(([message]) => message as string)).toEqual([
      'Integrations API listening on http://localhost:3000',
      'Swagger UI: http://localhost:3000/docs',
      'Development admin token (platform:admin, 12 h): eyJ.token.sig',
    ]);
    process.stdout.isTTY = true;
    logger.log.mockClear();
    announceStart({ production: true } as never, 'http://localhost:3000', 'eyJ.token.sig', logger);
    expect(logger.log.mock.calls).toEqual([['Integrations API listening on http://localhost:3000']]);
    expect(written).not.toContain('eyJ');
  });
});
