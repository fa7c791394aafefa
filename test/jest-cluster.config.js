/** npm run test:cluster (issue 16): the e2e setup, on the Galera cluster of `npm run cluster:up`; not part of `npm test`. */
const path = require('node:path');
const base = require('./jest-e2e.config.js');
module.exports = {
  ...base,
  rootDir: path.join(__dirname, '..'),
  roots: ['<rootDir>/test/cluster'],
  testRegex: '.*\\.cluster-spec\\.ts$',
  testTimeout: 300000,
};
