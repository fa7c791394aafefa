#!/usr/bin/env node
/*
 * Browser test of Swagger UI's try-it-out (issue 3): starts the built service on a
 * free port with a fresh SQLite DATA_DIR, creates a tenant through the API, then
 * drives Debian's chromium (playwright-core, never a downloaded browser) through
 * /docs: Authorize with a bearer token, POST /tenants/{iid}/integrations/{id} with
 * the Twilio example, and expects the live response 201 in the page. Finally the
 * integration is read back through the API.
 *
 * Run: npm run test:browser   (builds dist/ first when needed)
 * Needs /usr/bin/chromium:     apt-get install -y chromium
 * On failure: test/browser/failure.png, the browser console and the server output.
 * BROWSER_TEST_VERBOSE=1 prints the browser console on success too.
 */
'use strict';
/* global fetch, AbortSignal */

const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { existsSync, mkdtempSync, rmSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { clearTimeout } = require('node:timers');

const ROOT = join(__dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const FAILURE_SCREENSHOT = join(__dirname, 'failure.png');
const TOTAL_BUDGET_MS = 60_000;
const STEP_TIMEOUT_MS = 15_000;

// Fixed test-only settings: never used anywhere but in this throw-away server.
const JWT_SECRET = 'browser-test-jwt-secret-0123456789abcdef-not-for-production';
const ENCRYPTION_KEYS = `browser-test:${Buffer.alloc(32, 7).toString('base64')}`;
const ISSUER = 'integrations-api';
const AUDIENCE = 'integrations-api';

const TWILIO_EXAMPLE = { id: 'twilio', account: 'SID', password: 'Token' };

const state = {
  server: null,
  serverOutput: '',
  dataDir: null,
  browser: null,
  page: null,
  consoleMessages: [],
  step: 'starting',
};
let failing = false;

function log(message) {
  process.stdout.write(`${message}\n`);
}

function step(name) {
  if (failing) return;
  state.step = name;
  log(`  · ${name}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function adminToken() {
  const jwt = require('jsonwebtoken');
  return jwt.sign({ scope: 'platform:admin' }, JWT_SECRET, {
    algorithm: 'HS256',
    issuer: ISSUER,
    audience: AUDIENCE,
    subject: 'browser-test-admin',
    expiresIn: '10m',
  });
}

async function api(baseUrl, method, path, token, body) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

async function startServer(port) {
  const main = join(ROOT, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run node scripts/build-if-needed.js (npm run test:browser does)`);
  state.dataDir = mkdtempSync(join(tmpdir(), 'integrations-browser-test-'));
  const env = { ...process.env };
  // A developer's .env or shell must not point the test at a real database.
  delete env.DATABASE_URL;
  delete env.JWT_PUBLIC_KEY;
  delete env.JWT_JWKS_URL;
  delete env.JWT_ISSUER;
  delete env.JWT_AUDIENCE;
  delete env.NODE_ENV;
  Object.assign(env, {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: state.dataDir,
    LOG_LEVEL: 'warn',
    JWT_SECRET,
    ENCRYPTION_KEYS,
  });
  const child = spawn(process.execPath, [main], { cwd: state.dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  state.server = child;
  const collect = (chunk) => {
    state.serverOutput += chunk.toString();
    if (state.serverOutput.length > 20_000) state.serverOutput = state.serverOutput.slice(-20_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`the server exited before it was ready (code ${exited.code}, signal ${exited.signal})`);
    try {
      const response = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(1_000) });
      if (response.status === 200) return baseUrl;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${baseUrl}/health/ready did not answer 200 within 20 s`);
    await sleep(150);
  }
}

async function stopServer() {
  const child = state.server;
  state.server = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => {
    child.once('exit', resolve);
  });
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
  }, 3_000);
  await Promise.race([exited, sleep(4_000)]);
  clearTimeout(timer);
}

async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get update && apt-get install -y chromium). ` +
        'This test never downloads a browser.',
    );
  }
  const { chromium } = require('playwright-core');
  state.browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_TIMEOUT_MS,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await state.browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('console', (message) => state.consoleMessages.push(`[console.${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => state.consoleMessages.push(`[pageerror] ${error.message}`));
  page.on('requestfailed', (request) =>
    state.consoleMessages.push(`[requestfailed] ${request.method()} ${request.url()}: ${request.failure()?.errorText}`),
  );
  state.page = page;
}

function cspViolations() {
  return state.consoleMessages.filter((m) => /Content Security Policy|Refused to/i.test(m));
}

async function runSwaggerTryItOut(page, baseUrl, token, tenantId) {
  step('open /docs');
  await page.goto(`${baseUrl}/docs`, { waitUntil: 'load' });
  try {
    await page.locator('.swagger-ui .opblock').first().waitFor();
  } catch (error) {
    if (cspViolations().length > 0) throw new Error('Swagger UI did not render: the Content-Security-Policy blocked it (violations below)');
    throw error;
  }

  step('authorize with the bearer token');
  await page.locator('.swagger-ui .auth-wrapper button.authorize').click();
  const dialog = page.locator('.swagger-ui .dialog-ux .modal-ux');
  await dialog.waitFor();
  // One form per security scheme: the bearer token's, and (issue 13) the API clients' HTTP Basic of POST /token.
  const bearerForm = dialog.locator('form').filter({ hasText: 'bearer (http, Bearer)' });
  if ((await bearerForm.count()) !== 1)
    throw new Error(`expected one bearer form in the Authorize dialog, found ${await bearerForm.count()}`);
  await bearerForm.locator('input').first().fill(token);
  await bearerForm.locator('.auth-btn-wrapper button.authorize').click();
  // Once authorized, the dialog offers "Logout" instead of "Authorize".
  await bearerForm
    .locator('.auth-btn-wrapper button', { hasText: /logout/i })
    .first()
    .waitFor();
  await dialog.locator('button.btn-done, button.close-modal').first().click();
  await dialog.waitFor({ state: 'detached' });

  step('expand POST /tenants/{iid}/integrations/{id}');
  const operation = page
    .locator('.swagger-ui .opblock.opblock-post')
    .filter({ has: page.locator('.opblock-summary-path[data-path="/tenants/{iid}/integrations/{id}"]') });
  if ((await operation.count()) !== 1) {
    throw new Error(`expected one POST /tenants/{iid}/integrations/{id} operation in Swagger UI, found ${await operation.count()}`);
  }
  await operation.locator('.opblock-summary').first().click();
  await operation.locator('.opblock-body').waitFor();

  step('try it out: iid, id and the Twilio example');
  await operation.locator('button.try-out__btn').click();
  await operation.locator('tr[data-param-name="iid"] input').fill(tenantId);
  await operation.locator('tr[data-param-name="id"] input').fill('twilio');

  const requestBody = operation.locator('.opblock-section-request-body');
  const textarea = requestBody.locator('textarea.body-param__text');
  const examples = requestBody.locator('.examples-select select');
  if ((await examples.count()) > 0) {
    /** @type {{ value: string, label: string }[]} */
    const options = [];
    for (const option of await examples.first().locator('option').all()) {
      options.push({ value: String(await option.getAttribute('value')), label: (await option.innerText()).trim() });
    }
    const twilio = options.find((o) => o.value === 'twilio') ?? options.find((o) => /twilio/i.test(o.label ?? ''));
    if (!twilio)
      throw new Error(`the examples dropdown has no Twilio example (options: ${options.map((o) => String(o.value)).join(', ')})`);
    await examples.first().selectOption(twilio.value);
    log(`    (chose the named example "${twilio.label}")`);
    // The textarea follows the chosen example.
    await page.waitForFunction(
      (el) => {
        try {
          return JSON.parse(el.value).id === 'twilio';
        } catch {
          return false;
        }
      },
      await textarea.elementHandle(),
      { timeout: 5_000 },
    );
  } else {
    log('    (no examples dropdown: typing the seed Twilio example)');
    await textarea.fill(JSON.stringify(TWILIO_EXAMPLE, null, 2));
  }
  const sentBody = JSON.parse(await textarea.inputValue());
  for (const [key, value] of Object.entries(TWILIO_EXAMPLE)) {
    if (sentBody[key] !== value)
      throw new Error(`the request body shows ${key}=${JSON.stringify(sentBody[key])}, expected ${JSON.stringify(value)}`);
  }

  step('execute and expect 201 in the live response');
  const apiResponse = page.waitForResponse((r) =>
    Boolean(r.request().method() === 'POST' && String(r.url()).startsWith(`${baseUrl}/tenants/`)),
  );
  await operation.locator('button.execute').click();
  const response = await apiResponse;
  const status = operation.locator('.live-responses-table tbody tr.response td.response-col_status').first();
  await status.waitFor();
  const shown = (await status.innerText()).trim();
  if (!/^201\b/.test(shown)) {
    const curl = operation.locator('.curl-command');
    const request = (await curl.count()) > 0 ? await curl.first().innerText() : '(no curl shown)';
    const body = await operation
      .locator('.live-responses-table .response-col_description pre')
      .first()
      .innerText({ timeout: 2_000 })
      .catch(() => '(no body shown)');
    /** @param {string} text */
    const oneLine = (text) =>
      String(text)
        .replace(/Bearer [\w.-]+/g, 'Bearer <token>')
        .replace(/\s+/g, ' ')
        .slice(0, 600);
    throw new Error(
      `the page shows response code "${shown}" (network: ${response.status()}), expected 201\n    response body: ${oneLine(body)}\n    request: ${oneLine(request)}`,
    );
  }
  const expectedUrl = `${baseUrl}/tenants/${tenantId}/integrations/twilio`;
  if (response.url() !== expectedUrl) throw new Error(`Swagger UI posted to ${response.url()}, expected ${expectedUrl}`);
  const authHeader = response.request().headers().authorization;
  if (authHeader !== `Bearer ${token}`) throw new Error('the try-it-out request did not carry the authorized bearer token');
}

async function main() {
  const watchdog = setTimeout(() => {
    void fail(new Error(`timed out after ${TOTAL_BUDGET_MS / 1000} s during: ${state.step}`));
  }, TOTAL_BUDGET_MS);
  watchdog.unref();

  rmSync(FAILURE_SCREENSHOT, { force: true });
  log('swagger-try-it-out: POST /tenants/{iid}/integrations/{id} from Swagger UI');

  step('check chromium');
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get update && apt-get install -y chromium). This test never downloads a browser.`,
    );
  }

  step('start the service');
  const baseUrl = await startServer(await freePort());
  const token = adminToken();

  step('create a tenant through the API');
  const tenantId = `browser-${randomBytes(4).toString('hex')}`;
  const created = await api(baseUrl, 'POST', '/tenants', token, { id: tenantId, name: 'Browser test tenant' });
  if (created.status !== 201) throw new Error(`POST /tenants answered ${created.status}: ${created.text.slice(0, 500)}`);

  step('launch chromium');
  await launchBrowser();
  await runSwaggerTryItOut(state.page, baseUrl, token, tenantId);

  step('read the integration back through the API');
  const read = await api(baseUrl, 'GET', `/tenants/${tenantId}/integrations/twilio`, token);
  if (read.status !== 200)
    throw new Error(`GET /tenants/${tenantId}/integrations/twilio answered ${read.status}: ${read.text.slice(0, 500)}`);
  const stored = read.json ?? {};
  if (stored.id !== 'twilio' || stored.type !== 'twilio' || stored.account !== 'SID') {
    throw new Error(`GET returned an unexpected integration: ${read.text.slice(0, 500)}`);
  }

  clearTimeout(watchdog);
  if (process.env.BROWSER_TEST_VERBOSE && state.consoleMessages.length > 0) {
    log(`browser console:\n  ${state.consoleMessages.join('\n  ')}`);
  }
  await cleanup();
  log('1 passed, 0 failed');
  process.exit(0);
}

/** @type {Promise<void> | null} */
let cleaningUp = null;
function cleanup() {
  if (!cleaningUp) {
    cleaningUp = (async () => {
      const browser = state.browser;
      state.browser = null;
      if (browser) await Promise.race([browser.close().catch(() => {}), sleep(5_000)]);
      await stopServer().catch(() => {});
      if (state.dataDir) rmSync(state.dataDir, { recursive: true, force: true });
    })();
  }
  return cleaningUp;
}

async function fail(error) {
  if (failing) return;
  failing = true;
  process.exitCode = 1;
  log(`\nFAILED during "${state.step}": ${error && error.message ? error.message : error}`);
  if (state.page) {
    try {
      await Promise.race([state.page.screenshot({ path: FAILURE_SCREENSHOT, fullPage: true }), sleep(5_000)]);
      if (existsSync(FAILURE_SCREENSHOT)) log(`screenshot: ${FAILURE_SCREENSHOT}`);
    } catch (screenshotError) {
      log(`(no screenshot: ${screenshotError.message})`);
    }
  }
  const csp = cspViolations();
  if (csp.length > 0) log(`Content-Security-Policy violations:\n  ${csp.join('\n  ')}`);
  const others = state.consoleMessages.filter((m) => !csp.includes(m));
  if (others.length > 0) log(`browser console:\n  ${others.slice(-40).join('\n  ')}`);
  if (state.serverOutput.trim()) log(`server output (last lines):\n${state.serverOutput.trim().split('\n').slice(-30).join('\n')}`);
  await cleanup();
  log('0 passed, 1 failed');
  process.exit(1);
}

// Never leave a server behind, whatever ends this process.
process.on('exit', () => {
  if (state.server && state.server.exitCode === null) state.server.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => void fail(new Error(`interrupted by ${signal}`)));
}
process.on('unhandledRejection', (error) => void fail(error));

main().catch((error) => fail(error));
