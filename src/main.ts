import 'reflect-metadata';
import 'dotenv/config';
import { Logger } from '@nestjs/common';
import { createApp } from './app.setup';
import { mintToken } from './auth/token-minter';
import { ConfigError, loadConfiguration, type Configuration } from './config/configuration';
import { describeDatabase } from './config/database.config';
import { announceStart } from './logging/terminal';

/** Outside production, with an HS256 secret (generated for this machine), an admin token to try the API with. */
function developmentToken(config: Configuration): string | undefined {
  if (config.app.production || config.auth.secret === undefined) return undefined;
  return mintToken(config.auth, { subject: 'dev-admin', scopes: ['platform:admin'], ttlSeconds: 12 * 3600 });
}

async function bootstrap(): Promise<void> {
  let config: Configuration;
  try {
    config = loadConfiguration();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = new Logger('Bootstrap');
  let app;
  try {
    app = await createApp(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
    } else {
      const code = (error as { code?: string }).code;
      process.stderr.write(
        `Could not start: ${(error as Error).message}${code ? ` (${code})` : ''}\n` +
          `Check that the database at ${describeDatabase(config.database)} is running and DATABASE_URL is right.\n`,
      );
    }
    process.exit(1);
  }
  await app.listen({ port: config.app.port, host: config.app.host });
  // Shutdown (enableShutdownHooks) waits for in-flight requests; a client that never finishes its
  // request must not hold the process past the orchestrator's patience, so cut what remains after the grace.
  const server = app.getHttpServer();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => setTimeout(() => server.closeAllConnections(), config.app.shutdownGraceMs).unref());
  }
  const url = `http://${config.app.host === '0.0.0.0' ? 'localhost' : config.app.host}:${config.app.port}`;
  if (config.generated.length > 0) logger.log(`Generated development settings in ${config.app.dataDir}/dev-secrets.json: ${config.generated.join(', ')}`);
  announceStart(config.app, url, developmentToken(config), logger);
}

void bootstrap();
