/** Unit specs: beside the code, no database, no network beyond loopback. */
module.exports = {
  rootDir: 'src',
  testRegex: '.*\\.spec\\.ts$',
  moduleFileExtensions: ['js', 'json', 'ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  testEnvironment: 'node',
  reporters: ['default', '<rootDir>/../test/summary-reporter.js'],
};
