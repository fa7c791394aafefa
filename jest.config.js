/** Unit specs: beside the code, no database, no network beyond loopback. */
module.exports = {
  rootDir: 'src',
  testRegex: '.*\\.spec\\.ts$',
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
  reporters: ['default', '<rootDir>/../test/summary-reporter.js'],
};
