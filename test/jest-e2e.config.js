/** e2e specs: the real AppModule on a real database (SQLite unless DATABASE_URL says otherwise). */
module.exports = {
  rootDir: '..',
  roots: ['<rootDir>/test'],
  testRegex: '.*\\.e2e-spec\\.ts$',
  moduleFileExtensions: ['js', 'json', 'ts'],
  transform: {
    '^.+\\.ts$': 'ts-jest',
    // jwks-rsa 4 requires jose 6, which ships only as ES modules: Node (20.19+) loads it with require(),
    // Jest 30 cannot before Node 24.9. Compiled to CommonJS for the tests; so is @nestjs/schedule 12 (ESM only too);
    // nothing else in node_modules is.
    '/node_modules/(jose|@nestjs/schedule)/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose|@nestjs/schedule)/)'],
  testEnvironment: 'node',
  // Every answer is checked against the OpenAPI document; a test that got one it does not describe fails (issue 17).
  setupFilesAfterEnv: ['<rootDir>/test/helpers/contract-setup.ts'],
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  testTimeout: 60000,
  // A suite that fails mid-way (a hung request behind a stopped relay, say) must not also hang CI.
  forceExit: true,
};
