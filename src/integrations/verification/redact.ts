import { VendorNetworkError, VendorTimeoutError } from './vendor-http.client';
import { missingFields, type VendorVerifier, type VerifyContext, type VerifyOutcome } from './verifier';

export const MASK = '********';
/** Vendor bodies can be whole HTML pages; a message is a sentence, not a dump. */
export const MAX_MESSAGE_LENGTH = 300;
/** Below this length a decoded base64 blob contains the secret by chance too often to mean anything. */
const MIN_SECRET_FOR_DECODE = 4;
const BASE64_TOKEN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;

/**
 * Masks every secret in `text`: as is, URL-encoded (query or form), JSON-escaped, and
 * base64 — including base64 blobs that merely contain it, like Basic auth's
 * base64("user:secret"). Then flattens the text to one line and cuts it to `maxLength`.
 * Redaction runs before the cut, so a secret straddling the cut cannot leak a prefix.
 */
export function redactSecrets(
  text: string,
  secrets: Iterable<string | undefined>,
  maxLength: number = MAX_MESSAGE_LENGTH,
): string {
  const values = [...new Set([...secrets].filter((s): s is string => typeof s === 'string' && s.length > 0))];
  let out = values.length ? maskForms(maskBase64Blobs(text, values), values) : text;
  // Control characters would let a vendor body forge log lines: flatten them with the whitespace.
  // eslint-disable-next-line no-control-regex
  out = out.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
  return out.length > maxLength ? `${out.slice(0, maxLength - 1)}…` : out;
}

function maskForms(text: string, secrets: string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(new URLSearchParams({ s: secret }).toString().slice(2)); // form encoding: space → '+'
    forms.add(JSON.stringify(secret).slice(1, -1));
    const base64 = Buffer.from(secret, 'utf8').toString('base64');
    forms.add(base64);
    forms.add(base64.replace(/=+$/, ''));
    forms.add(Buffer.from(secret, 'utf8').toString('base64url'));
  }
  // Longest first, so a secret containing another is masked whole.
  const ordered = [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
  return ordered.reduce((acc, form) => acc.split(form).join(MASK), text);
}

/** A base64 run whose decoding (from any of the 4 alignments) contains a secret is masked whole. */
function maskBase64Blobs(text: string, secrets: string[]): string {
  const long = secrets.filter((s) => s.length >= MIN_SECRET_FOR_DECODE);
  if (!long.length) return text;
  return text.replace(BASE64_TOKEN, (token) => {
    for (let offset = 0; offset < 4; offset++) {
      const decoded = Buffer.from(token.slice(offset), 'base64').toString('latin1');
      const utf8 = Buffer.from(decoded, 'latin1').toString('utf8');
      if (long.some((s) => decoded.includes(s) || utf8.includes(s))) return MASK;
    }
    return token;
  });
}

/** What runVerifier needs to know of a vendor: a name for messages and, from the registry, its fields. */
export interface VerifiedVendor {
  readonly type: string;
  readonly title: string;
  /** The DTO's fields (registry): the required ones must all be there before the vendor is called. */
  readonly fields?: readonly { readonly name: string; readonly required: boolean }[];
}

/**
 * Runs one vendor's verifier and guarantees a safe outcome: never throws, turns a
 * timeout or a network failure into a failed outcome with a plain message, and
 * passes the final message through redactSecrets with the secret field values.
 * `vendor` is the type or, for nicer messages and the required-field check, the
 * registry entry: credentials without one of its DTO's required fields fail
 * ("cannot verify: missing …") without a vendor call, so a verifier may rely on them.
 */
export async function runVerifier(
  vendor: string | VerifiedVendor,
  verifier: VendorVerifier,
  credentials: Readonly<Record<string, string | undefined>>,
  secretFieldNames: Iterable<string>,
  ctx: VerifyContext,
): Promise<VerifyOutcome> {
  const name = typeof vendor === 'string' ? vendor : vendor.title;
  const secrets = [...secretFieldNames].map((field) => credentials[field]);
  const required = typeof vendor === 'string' ? [] : (vendor.fields ?? []).filter((f) => f.required).map((f) => f.name);
  let outcome: VerifyOutcome;
  try {
    outcome = missingFields(credentials, required) ?? (await verifier(credentials, ctx));
  } catch (error) {
    outcome = { ok: false, message: describeError(name, error) };
  }
  const message = redactSecrets(String(outcome.message ?? ''), secrets);
  if (!outcome.ok) return { ok: false, message };
  const updates = safeUpdates(outcome.updates, secrets);
  return updates ? { ok: true, message, updates } : { ok: true, message };
}

function describeError(name: string, error: unknown): string {
  if (error instanceof VendorTimeoutError) return `${name} did not answer: ${error.message}`;
  if (error instanceof VendorNetworkError) return `could not reach ${name}: ${error.message}`;
  // Anything else is our bug, and its text could hold anything: say only what kind it was.
  const kind = error instanceof Error ? error.name : typeof error;
  return `${name} verification failed: internal error (${kind})`;
}

/** Learned fields are stored in clear (e.g. `instance`), so one that contains a secret is dropped. */
function safeUpdates(
  updates: Record<string, string> | undefined,
  secrets: (string | undefined)[],
): Record<string, string> | undefined {
  if (!updates) return undefined;
  const kept = Object.entries(updates).filter(
    ([, value]) =>
      typeof value === 'string' && redactSecrets(value, secrets, Infinity) === redactSecrets(value, [], Infinity),
  );
  return kept.length ? Object.fromEntries(kept) : undefined;
}
