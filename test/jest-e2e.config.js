/** e2e specs: the real AppModule on a real database (SQLite unless DATABASE_URL says otherwise). */
module.exports = {
  rootDir: '..',
  roots: ['<rootDir>/test'],
  testRegex: '.*\\.e2e-spec\\.ts$',
  moduleFileExtensions: ['js', 'json', 'ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  testEnvironment: 'node',
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  testTimeout: 60000,
  // A suite that fails mid-way (a hung request behind a stopped relay, say) must not also hang CI.
  forceExit: true,
};
