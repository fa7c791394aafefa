import { isIP } from 'node:net';

/**
 * The rules for a webhook URL (issue 15), checked at registration: a literal
 * address is judged here; a name is judged by the address it resolves to, at
 * each delivery, at connect time (request-filtering-agent), since a name can
 * point anywhere later.
 */
export const MAX_URL_LENGTH = 2048;

/** Why a URL is refused, or undefined when it is acceptable. */
export function urlProblem(value: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'url must be an absolute http(s) URL, like https://hooks.example.com/integrations';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `url must use http or https (got '${url.protocol.slice(0, 20)}')`;
  // Said without echoing the value: it may be a password.
  if (url.username !== '' || url.password !== '')
    return 'url must not hold a user name or password; authenticate the request with its signature';
  if (url.hash !== '') return 'url must not have a fragment';
  if (!allowPrivate) {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0 && isNonPublicAddress(host)) {
      return `url points to ${host}, a loopback, private or link-local address; such endpoints are refused unless WEBHOOK_ALLOW_PRIVATE=true`;
    }
  }
  return undefined;
}

/**
 * Whether a literal IPv4 or IPv6 address is one a webhook must not reach:
 * unspecified, loopback, private (RFC 1918, ULA), carrier-grade NAT,
 * link-local (cloud metadata lives at 169.254.169.254), multicast, reserved.
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
export function isNonPublicAddress(address: string): boolean {
  const version = isIP(address);
  if (version === 4) return isNonPublicV4(address.split('.').map(Number));
  if (version !== 6) return false;
  const groups = expandV6(address.toLowerCase());
  if (groups === undefined) return true;
  // ::ffff:a.b.c.d and ::a.b.c.d carry an IPv4 address.
  if (groups.slice(0, 5).every((g) => g === 0) && (groups[5] === 0xffff || groups[5] === 0)) {
    if (groups[5] === 0 && groups[6] === 0 && groups[7] <= 1) return true; // :: and ::1
    return isNonPublicV4([groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff]);
  }
  const first = groups[0];
  return (
    (first & 0xfe00) === 0xfc00 || // fc00::/7 unique local
    (first & 0xffc0) === 0xfe80 || // fe80::/10 link-local
    (first & 0xffc0) === 0xfec0 || // fec0::/10 site-local (deprecated)
    (first & 0xff00) === 0xff00 || // multicast
    (first === 0x2001 && groups[1] === 0x0db8) || // documentation
    (first === 0x0064 && groups[1] === 0xff9b) // NAT64, may reach IPv4 private space
  );
}

function isNonPublicV4([a, b]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part folded in). */
function expandV6(address: string): number[] | undefined {
  let text = address.split('%')[0];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** The host of a URL, for logs and messages: never its path or query, which may carry a token. */
export function hostOf(value: string): string {
  try {
    return new URL(value).host;
  } catch {
    return '(invalid url)';
  }
}
