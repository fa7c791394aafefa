/** Unit specs: beside the code, no database, no network beyond loopback. */
module.exports = {
  rootDir: 'src',
  testRegex: '.*\\.spec\\.ts$',
  moduleFileExtensions: ['js', 'json', 'ts'],
  transform: {
    '^.+\\.ts$': 'ts-jest',
    // jwks-rsa 4 requires jose 6, which ships only as ES modules: Node (20.19+) loads it with require(),
    // Jest 30 cannot before Node 24.9. Compiled to CommonJS for the tests; so are @nestjs/schedule 12 and request-filtering-agent 3 (ES modules only too).
    '/node_modules/(jose|@nestjs/schedule|request-filtering-agent)/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true }],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/|@nestjs/schedule/|request-filtering-agent/)'],
  testEnvironment: 'node',
  reporters: ['default', '<rootDir>/../test/summary-reporter.js'],
};
