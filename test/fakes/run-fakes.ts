/**
 * `npm run fakes`: the fake vendors on fixed ports (4101–4106, or FAKES_BASE_PORT..+5),
 * so a person can point a local service at them and try verify by hand.
 */
import { FAKE_SPECIAL_IDENTITIES, FAKE_VENDORS, startFakeVendors } from './fake-vendors';

async function main(): Promise<void> {
  const basePort = Number(process.env.FAKES_BASE_PORT ?? 4101);
  if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65530) {
    throw new Error(`FAKES_BASE_PORT must be a port number, got ${process.env.FAKES_BASE_PORT}`);
  }
  const fakes = await startFakeVendors({ host: process.env.FAKES_HOST ?? '127.0.0.1', basePort });

  const out: string[] = [];
  out.push('Fake vendors are listening. Point the service at them (paste before `npm start`):', '');
  for (const [name, value] of Object.entries(fakes.env)) out.push(`export ${name}=${value}`);
  out.push(
    '',
    'Then, with API=http://localhost:3000, TENANT=<a tenant id> and TOKEN=<a token with integrations:write>',
    '(see `npm run token`), store the good credentials and verify them:',
  );
  for (const vendor of FAKE_VENDORS) {
    const body = JSON.stringify({ id: vendor.type, type: vendor.type, ...fakes.good[vendor.type] });
    const path = `$API/tenants/$TENANT/integrations/${vendor.type}`;
    out.push(
      '',
      `# ${vendor.type} (${fakes.urls[vendor.key]})`,
      `curl -sS -X POST "${path}" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '${body}'`,
      `curl -sS -X POST "${path}/verify" -H "Authorization: Bearer $TOKEN"`,
    );
  }
  out.push(
    '',
    `Set the identity field (username / account / key) to ${FAKE_SPECIAL_IDENTITIES.join(', ')} to make a fake`,
    'hang, answer after 3 s, fail with a 500, or echo the credentials back in a 401.',
    '',
    'Ctrl-C to stop.',
  );
  process.stdout.write(`${out.join('\n')}\n`);

  const stop = (): void => {
    void fakes.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`fakes: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
