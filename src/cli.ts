/**
 * Operator commands: `node dist/cli.js <command> [options]` (npm run token,
 * keys:generate, keys:status, keys:rotate, keys:rotate-signing, audit:verify). Results go to stdout, progress and
 * errors to stderr, so `$(npm run -s token)` captures only the token.
 */
import 'reflect-metadata';
import 'dotenv/config';
import { NestFactory } from '@nestjs/core';
import { parseDuration } from './auth/token-minter';
import { AuditVerifyCommand } from './cli/audit-verify.command';
import { CliModule } from './cli/cli.module';
import { KeysCommand } from './cli/keys.command';
import { SigningKeysCommand } from './cli/signing-keys.command';
import { TokenCommand } from './cli/token.command';
import { ConfigError, loadConfiguration, type Configuration } from './config/configuration';
import { generateKeyEntry } from './crypto/master-key-ring';

type Options = Record<string, string | true>;

function parseOptions(args: string[]): Options {
  const options: Options = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}'`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (inline !== undefined) options[name] = inline;
    else if (i + 1 < args.length && !args[i + 1].startsWith('--')) options[name] = args[++i];
    else options[name] = true;
  }
  return options;
}

function text(options: Options, name: string): string | undefined {
  const value = options[name];
  if (value === true) throw new ConfigError(`--${name} needs a value`);
  return value;
}

const USAGE = `Usage: node dist/cli.js <command> [options]

  token          --scope "platform:admin" [--tenants a,b] [--sub name] [--ttl 1h]
                 prints a signed development token (HS256, JWT_SECRET or the generated one)
  keys:generate  prints a new id:base64key entry for ENCRYPTION_KEYS
  keys:status    how many tenants and secrets sit under each master key
  keys:rotate    [--reencrypt] [--batch 100]
                 re-wraps every tenant data key under the first key of ENCRYPTION_KEYS;
                 --reencrypt also gives each tenant a new data key and re-encrypts its secrets
  keys:rotate-signing
                 adds a new token-signing key for POST /token; the previous one stays
                 published until the tokens it signed have expired
  audit:verify   [--tenant t] [--json] [--batch 1000]
                 walks the audit trail's hash chains (every tenant's, or one) and names the
                 first broken link of each; exit 0 intact, 2 broken, 1 on an error
`;

/** Runs `work` with a service from the command's Nest application context, then closes it (and its database pool). */
async function withContext<T, R>(config: Configuration, needs: 'token' | 'keys' | 'audit', type: new (...args: never[]) => T, work: (service: T) => Promise<R>): Promise<R> {
  const context = await NestFactory.createApplicationContext(CliModule.forRoot(config, needs), { logger: false, abortOnError: false });
  try {
    return await work(context.get(type));
  } finally {
    await context.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const options = parseOptions(rest);
  switch (command) {
    case 'token': {
      const config = loadConfiguration();
      const scopes = (text(options, 'scope') ?? '').split(/[\s,]+/).filter(Boolean);
      if (scopes.length === 0) throw new ConfigError('--scope is required, e.g. --scope "integrations:read integrations:write"');
      const tenants = text(options, 'tenants');
      const mint = {
        subject: text(options, 'sub') ?? 'dev-cli',
        scopes,
        tenants: tenants === undefined ? undefined : tenants.split(',').map((t) => t.trim()).filter(Boolean),
        ttlSeconds: parseDuration(text(options, 'ttl') ?? '1h'),
      };
      const token = await withContext(config, 'token', TokenCommand, (command) => Promise.resolve(command.mint(mint)));
      process.stdout.write(`${token}\n`);
      return 0;
    }
    case 'keys:generate':
      process.stdout.write(`${generateKeyEntry()}\n`);
      return 0;
    case 'keys:status':
      return withContext(loadConfiguration(), 'keys', KeysCommand, (keys) => keys.status());
    case 'keys:rotate': {
      const rotation = { reencrypt: options.reencrypt === true, batchSize: Number(text(options, 'batch') ?? 100) };
      return withContext(loadConfiguration(), 'keys', KeysCommand, (keys) => keys.rotate(rotation));
    }
    case 'keys:rotate-signing':
      return withContext(loadConfiguration(), 'keys', SigningKeysCommand, (signing) => signing.rotate());
    case 'audit:verify': {
      const tenant = text(options, 'tenant');
      const verify = { tenant, json: options.json === true, batchSize: Number(text(options, 'batch') ?? 1000) };
      if (!Number.isInteger(verify.batchSize) || verify.batchSize < 1) throw new ConfigError('--batch must be a positive integer');
      return withContext(loadConfiguration(), 'audit', AuditVerifyCommand, (command) => command.verify(verify));
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`Unknown command '${command}'.\n\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${error instanceof ConfigError ? 'Configuration error' : 'Error'}: ${message}\n`);
    process.exit(1);
  },
);
