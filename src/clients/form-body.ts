import { errorCodes, type FastifyInstance } from 'fastify';

/** The routes that take application/x-www-form-urlencoded bodies: the token endpoint, nothing else. */
export const FORM_ROUTES: ReadonlySet<string> = new Set(['/token', '/oauth/token']);

/**
 * The parameters of a form-encoded body (RFC 6749 appendix B: UTF-8, then
 * application/x-www-form-urlencoded). Kept whole so that a parameter sent twice
 * can be refused (RFC 6749 §3.2: parameters MUST NOT be included more than once).
 */
export class FormParameters {
  constructor(private readonly params: URLSearchParams) {}

  /** The names sent more than once. */
  repeated(): string[] {
    const seen = new Set<string>();
    const twice = new Set<string>();
    for (const name of this.params.keys()) (seen.has(name) ? twice : seen).add(name);
    return [...twice];
  }

  /** Every parameter as sent, a repeated one as the list of its values (for checking a request against the OpenAPI document). */
  fields(): Record<string, string | string[]> {
    const fields = new Map<string, string | string[]>();
    for (const [name, value] of this.params) {
      const earlier = fields.get(name);
      fields.set(name, earlier === undefined ? value : [...(Array.isArray(earlier) ? earlier : [earlier]), value]);
    }
    return Object.fromEntries(fields);
  }

  /** The value of a parameter; an empty value counts as absent (RFC 6749 §3.1). */
  get(name: string): string | undefined {
    const value = this.params.get(name);
    return value === null || value === '' ? undefined : value;
  }
}

/**
 * Form bodies are parsed for the token endpoint only. Every other route keeps
 * answering 415 to them, with the very error Fastify raises for a content
 * type it has no parser for. The route is known by then: Fastify routes a
 * request before it reads its body. (Fastify reads the body, within
 * BODY_LIMIT, before calling a parser: a form body whose Content-Length is
 * over the limit gets 413, like any other body that large.)
 */
export function registerFormParser(fastify: FastifyInstance): void {
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    if (!FORM_ROUTES.has(request.routeOptions.url ?? '')) {
      done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
      return;
    }
    done(null, new FormParameters(new URLSearchParams(body as string)));
  });
}
