import { skipLockedSupported } from './database.service';

describe('SELECT … SKIP LOCKED by server version (background claims)', () => {
  it.each([
    ['10.11.6-MariaDB-0+deb12u1', true],
    ['10.6.0-MariaDB', true],
    ['11.4.2-MariaDB', true],
    ['10.5.23-MariaDB-0+deb11u1', false],
    ['8.0.36', true],
    ['8.0.1', true],
    ['8.0.0-dmr', false],
    ['5.7.44-log', false],
    ['8.4.0', true],
    ['8.0.11-TiDB-v7.5.1', false],
    ['8.0.23-vitess', false],
    ['not a version', false],
  ])('%s → %s', (version, supported) => {
    expect(skipLockedSupported(version)).toBe(supported);
  });
});
