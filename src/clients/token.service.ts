import { Inject, Injectable } from '@nestjs/common';
import { sign } from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { OAuthError } from '../common/errors/domain-errors';
import { isResourceId } from '../common/validation/resource-id';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { dummyHash, verifySecret } from './client-secret';
import { ClientsRepository, type ClientCredentials } from './clients.repository';
import type { FormParameters } from './form-body';
import { SigningKeysService } from './signing-keys.service';
import { TokenAttemptLimiter } from './token-attempts';

/** RFC 6749 §5.1, as POST /token answers it. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

export interface TokenRequest {
  /** The parsed form body; anything else (JSON, nothing) is not a token request. */
  form: FormParameters | undefined;
  authorization: string | undefined;
  address: string;
}

const CLIENT_CREDENTIALS = 'client_credentials';

/** The refusal of a failed client authentication, the same whether the id exists or not. */
const AUTHENTICATION_FAILED = 'Client authentication failed';

/** application/x-www-form-urlencoded decoding of one part of a Basic credential (RFC 6749 §2.3.1). */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The client id and secret of an `Authorization: Basic` header (RFC 7617, with RFC 6749 §2.3.1's encoding). */
function basicCredentials(header: string): { id: string; secret: string } {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (match === null) throw new OAuthError('invalid_client', 'Client authentication failed: send the client id and secret with HTTP Basic or as client_id and client_secret');
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const id = colon < 0 ? undefined : formDecode(decoded.slice(0, colon));
  const secret = colon < 0 ? undefined : formDecode(decoded.slice(colon + 1));
  if (id === undefined || secret === undefined || id === '' || secret === '') {
    throw new OAuthError('invalid_client', 'Client authentication failed: the Basic credentials are not client_id:client_secret');
  }
  return { id, secret };
}

/**
 * The client-credentials grant (RFC 6749 §4.4) of POST /token: checks the
 * request, authenticates the client (HTTP Basic or form fields, §2.3.1), and
 * signs an access token for its tenant with the service's current signing key.
 *
 * Every failed authentication costs the same: an unknown client id is
 * checked against a dummy hash of the same cost, so the answer time does not
 * tell whether the id exists; failures are counted per client id and per
 * address, and past the limit refused with 429 before any hashing.
 *
 * Neither an issued token nor a failed authentication is an audit event. The
 * endpoint is hot, a token is the client's ordinary use of the credential
 * whose creation and rotation are events, and an event written only for a
 * client id that exists would give away, by the time it takes, what the
 * answer hides; written for any id, it would let anonymous callers fill the
 * trail. Failures are counted (429 past the limits) and in the request log.
 */
@Injectable()
export class TokenService {
  constructor(
    private readonly clients: ClientsRepository,
    private readonly signingKeys: SigningKeysService,
    private readonly attempts: TokenAttemptLimiter,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  async issue(request: TokenRequest): Promise<TokenResponse> {
    const { form } = request;
    if (form === undefined) {
      throw new OAuthError('invalid_request', 'The token endpoint takes its parameters as application/x-www-form-urlencoded (RFC 6749 §4.4.2)');
    }
    const repeated = form.repeated();
    if (repeated.length > 0) throw new OAuthError('invalid_request', `Parameter '${repeated[0].slice(0, 64)}' is sent more than once`);
    const grantType = form.get('grant_type');
    if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is missing; send grant_type=client_credentials');
    if (grantType !== CLIENT_CREDENTIALS) {
      throw new OAuthError('unsupported_grant_type', `Only grant_type=client_credentials is supported (got '${grantType.slice(0, 64)}')`);
    }

    const { id, secret } = this.credentials(form, request.authorization);
    this.attempts.check(id, request.address);
    const client = await this.authenticate(id, secret, request.address);
    const scope = this.grantedScope(form.get('scope'), client);
    return this.sign(client, scope);
  }

  /** The client id and secret, from exactly one of the two methods of RFC 6749 §2.3.1. */
  private credentials(form: FormParameters, authorization: string | undefined): { id: string; secret: string } {
    const formId = form.get('client_id');
    const formSecret = form.get('client_secret');
    if (authorization !== undefined) {
      if (formSecret !== undefined) throw new OAuthError('invalid_request', 'Use one client authentication method: HTTP Basic or client_secret, not both');
      const basic = basicCredentials(authorization);
      if (formId !== undefined && formId !== basic.id) throw new OAuthError('invalid_request', 'client_id differs from the client of the Basic credentials');
      return basic;
    }
    if (formId === undefined || formSecret === undefined) {
      throw new OAuthError('invalid_client', 'Client authentication failed: send the client id and secret with HTTP Basic or as client_id and client_secret');
    }
    return { id: formId, secret: formSecret };
  }

  private async authenticate(id: string, secret: string, address: string): Promise<ClientCredentials> {
    const client = isResourceId(id) ? await this.clients.credentials(id) : null;
    const now = new Date();
    let current = false;
    let previous = false;
    if (client === null) {
      await verifySecret(secret, await dummyHash());
    } else {
      // Both hashes at once when there is a previous one: the thread pool runs them side by side, so a client
      // in its rotation overlap takes about as long to refuse as any other.
      [current, previous] = await Promise.all([
        verifySecret(secret, client.secretHash),
        client.previousSecretHash === null ? false : verifySecret(secret, client.previousSecretHash),
      ]);
    }
    if (client !== null && (current || (previous && client.previousSecretExpiresAt !== null && client.previousSecretExpiresAt > now))) {
      return client;
    }
    await this.attempts.recordFailure(id, address);
    if (client !== null && previous) {
      // The caller holds the secret, so nothing is disclosed by saying that it was replaced (RFC 6749 §5.2:
      // the grant, here the client credential, "is expired").
      throw new OAuthError('invalid_grant', `This client secret was replaced; it stopped working at ${client.previousSecretExpiresAt?.toISOString() ?? 'its rotation'}`);
    }
    this.attempts.check(id, address);
    throw new OAuthError('invalid_client', AUTHENTICATION_FAILED);
  }

  /** The scope of the token: the client's whole scope, or the subset asked for (RFC 6749 §3.3). */
  private grantedScope(requested: string | undefined, client: ClientCredentials): string {
    const allowed = client.scope.split(' ').filter(Boolean);
    if (requested === undefined) return allowed.join(' ');
    const asked = [...new Set(requested.split(' ').filter(Boolean))];
    if (asked.length === 0) throw new OAuthError('invalid_scope', 'scope is empty; leave it out to get every scope of the client');
    const beyond = asked.find((scope) => !allowed.includes(scope));
    if (beyond !== undefined) throw new OAuthError('invalid_scope', `The client may not request the scope '${beyond.slice(0, 64)}'`);
    return allowed.filter((scope) => asked.includes(scope)).join(' ');
  }

  private async sign(client: ClientCredentials, scope: string): Promise<TokenResponse> {
    const { kid, privateKey } = await this.signingKeys.signingKey();
    const ttl = this.config.clients.tokenTtlSeconds;
    const claims = { scope, tenants: [client.tenantId], client_id: client.id };
    const accessToken = sign(claims, privateKey, {
      algorithm: 'ES256',
      keyid: kid,
      // RFC 9068's media type of JWT access tokens.
      header: { alg: 'ES256', kid, typ: 'at+jwt' },
      issuer: this.config.clients.issuer,
      audience: this.config.clients.audience,
      subject: client.id,
      expiresIn: ttl,
      jwtid: randomUUID(),
    });
    return { access_token: accessToken, token_type: 'Bearer', expires_in: ttl, scope };
  }
}
