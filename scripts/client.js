#!/usr/bin/env node
// `npm run client`: generates the typed TypeScript client's types
// (clients/typescript/schema.d.ts) from openapi.json with openapi-typescript, then
// compiles the client (tsc --noEmit). `--check` (CI) writes nothing: it fails when
// the committed schema.d.ts is not what openapi.json generates. Issue 17.
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const root = join(__dirname, '..');
// The package's exports map hides its bin; node_modules/.bin/openapi-typescript is what npx would run.
const cli = join(root, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');
const target = join(root, 'clients', 'typescript', 'schema.d.ts');
const check = process.argv.includes('--check');

const dir = mkdtempSync(join(tmpdir(), 'integrations-client-'));
try {
  const generated = join(dir, 'schema.d.ts');
  execFileSync(process.execPath, [cli, join(root, 'openapi.json'), '--output', generated], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const text = readFileSync(generated, 'utf8');
  if (check) {
    let committed = '';
    try {
      committed = readFileSync(target, 'utf8');
    } catch {
      // Missing: a difference like any other.
    }
    if (committed !== text) {
      process.stderr.write('clients/typescript/schema.d.ts is not what openapi.json generates: run `npm run client` and commit it\n');
      process.exit(1);
    }
  } else {
    writeFileSync(target, text);
    process.stdout.write(`wrote ${target}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '--noEmit', '-p', join(root, 'clients', 'typescript')], { cwd: root, stdio: 'inherit' });
process.stdout.write('clients/typescript compiles\n');
