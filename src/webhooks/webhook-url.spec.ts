import { hostOf, isNonPublicAddress, urlProblem } from './webhook-url';

describe('webhook URL rules', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
  ])('refuses the IPv4 address %s', (address) => expect(isNonPublicAddress(address)).toBe(true));

  it.each(['::1', '::', 'fe80::1', 'fd00::1', 'fc12:3456::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', 'ff02::1'])(
    'refuses the IPv6 address %s',
    (address) => expect(isNonPublicAddress(address)).toBe(true),
  );

  it.each(['8.8.8.8', '172.32.0.1', '93.184.216.34', '2606:4700::1111', '::ffff:8.8.8.8'])('accepts the public address %s', (address) =>
    expect(isNonPublicAddress(address)).toBe(false),
  );

  it.each([
    ['ftp://hooks.example.com/x', /http or https/],
    ['not a url', /absolute http\(s\) URL/],
    ['https://user:pw@hooks.example.com/x', /user name or password/],
    ['https://token@hooks.example.com/x', /user name or password/],
    ['http://127.0.0.1:8080/x', /127\.0\.0\.1, a loopback, private or link-local address/],
    ['http://10.0.0.5/x', /10\.0\.0\.5/],
    ['http://169.254.169.254/latest/meta-data', /169\.254\.169\.254/],
    ['http://[::1]:9000/x', /::1/],
  ])('refuses %s', (url, message) => {
    expect(urlProblem(url, false)).toMatch(message);
  });

  it('never repeats a password it refuses', () => {
    expect(urlProblem('https://user:hunter2@hooks.example.com/x', false)).not.toContain('hunter2');
  });

  it('accepts public URLs, and private ones with WEBHOOK_ALLOW_PRIVATE', () => {
    expect(urlProblem('https://hooks.example.com/integrations?x=1', false)).toBeUndefined();
    expect(urlProblem('http://127.0.0.1:8080/x', true)).toBeUndefined();
    // Credentials are refused even when private addresses are allowed.
    expect(urlProblem('http://a:b@127.0.0.1/x', true)).toMatch(/user name or password/);
  });

  it('names only the host of a URL', () => {
    expect(hostOf('https://hooks.example.com:8443/path?token=abc')).toBe('hooks.example.com:8443');
  });
});
