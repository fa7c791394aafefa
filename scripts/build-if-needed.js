#!/usr/bin/env node
// Builds dist/ when it is missing or older than a source file, so `npm start`
// and the npm commands work on a fresh clone. Runs the same build as
// `npm run build` (`nest build`). Prints only to stderr: commands like
// `npm run -s token` must keep stdout clean.
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const stamp = join(root, 'dist', '.build-stamp');

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newestMtime(join(path, name))), 0);
}

const sources = ['src', 'ormconfig.ts', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json', 'package.json'].map((p) => join(root, p));
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (built === 0 || sources.some((source) => existsSync(source) && newestMtime(source) > built)) {
  process.stderr.write('Building (nest build)…\n');
  // nest reads nest-cli.json from its working directory.
  try {
    execFileSync(process.execPath, [require.resolve('@nestjs/cli/bin/nest.js'), 'build'], {
      cwd: root,
      stdio: ['ignore', process.stderr, process.stderr],
    });
  } catch (error) {
    // The compiler has printed the errors; a stack trace of this script would only bury them.
    process.stderr.write('Build failed.\n');
    process.exit(error.status ?? 1);
  }
  writeFileSync(stamp, new Date().toISOString());
}
