import { clientToken, createClient } from '../helpers/clients';
import { adminToken, bearer, createTenant, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * Issue 13: a deleted client's live token is refused within a second, also by
 * another instance on the same database, which learns of the deletion from
 * its poll of the revocations (no query per request).
 */
describe('Revocation across instances', () => {
  let first: TestApp;
  let second: TestApp;
  let tenant: string;
  beforeAll(async () => {
    first = await startTestApp();
    const database = first.config.database;
    second = await startTestApp({ DATABASE_URL: database.kind === 'sqlite' ? `sqlite:${database.path}` : database.url });
    tenant = await createTenant(first, 'revoke');
  });
  afterAll(async () => {
    await second.close();
    await first.close();
  });

  it("refuses a deleted client's token on the instance that deleted it at once, and on another instance within 1 s", async () => {
    const client = await createClient(first, tenant, 'integrations:read');
    const jwt = await clientToken(first, client);
    const read = (t: TestApp) => t.app.inject({ method: 'GET', url: `/tenants/${tenant}/integrations`, headers: { authorization: `Bearer ${jwt}` } });
    // Both instances accept it (the second checks it with the signing key it read from the database), and have it in their cache.
    expect((await read(first)).statusCode).toBe(200);
    expect((await read(second)).statusCode).toBe(200);
    expect((await read(second)).statusCode).toBe(200);

    const deleted = await first.http().delete(`/tenants/${tenant}/api-clients/${client.id}`).set(...bearer(adminToken()));
    expect(deleted.status).toBe(204);
    const revokedAt = Date.now();
    expect((await read(first)).statusCode).toBe(401);

    let refusedAfter: number | undefined;
    while (Date.now() - revokedAt < 3000) {
      const response = await read(second);
      if (response.statusCode === 401) {
        refusedAfter = Date.now() - revokedAt;
        expect(response.json()).toMatchObject({ error: 'Token has been revoked: its API client was deleted' });
        break;
      }
      expect(response.statusCode).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    console.log(`the other instance refused the revoked token after ${String(refusedAfter)} ms`);
    expect(refusedAfter).toBeDefined();
    expect(refusedAfter!).toBeLessThan(1000);
  });
});
