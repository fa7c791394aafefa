/**
 * `npm run openapi`: writes the OpenAPI document the service serves at /docs-json
 * to openapi.json at the repository root (issue 17), so that it is reviewed like
 * code. test/swagger.e2e-spec.ts fails when the committed file differs from what
 * the running service serves. `--check` only compares, and exits 1 on a difference.
 *
 * The app is booted as the e2e tests boot it (the real AppModule, an in-memory
 * SQLite database, throw-away keys): the document comes from the controllers.
 */
import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOpenApiDocument, createApp, openApiJson } from '../src/app.setup';
import { loadConfiguration } from '../src/config/configuration';

const OPENAPI_FILE = join(__dirname, '..', 'openapi.json');

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const dir = mkdtempSync(join(tmpdir(), 'integrations-openapi-'));
  try {
    const config = loadConfiguration({ NODE_ENV: 'development', LOG_LEVEL: 'silent', DATA_DIR: dir, DATABASE_URL: 'sqlite::memory:' });
    const app = await createApp(config);
    const text = openApiJson(buildOpenApiDocument(app));
    await app.close();
    if (check) {
      let committed = '';
      try {
        committed = readFileSync(OPENAPI_FILE, 'utf8');
      } catch {
        // Missing: a difference like any other.
      }
      if (committed !== text) {
        process.stderr.write('openapi.json differs from the document the service serves: run `npm run openapi` and commit it\n');
        process.exitCode = 1;
        return;
      }
      process.stdout.write('openapi.json is up to date\n');
      return;
    }
    writeFileSync(OPENAPI_FILE, text);
    process.stdout.write(`wrote ${OPENAPI_FILE} (${text.length} bytes)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
