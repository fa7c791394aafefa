/**
 * The original API page's four integration requests, verbatim (../shared/seed/integration-resources.md):
 * the bodies the contract tests, the typed client's suite and the Prism check all send as they are.
 */
export const SEED_EXAMPLES = {
  salesforce: {
    id: 'salesforce',
    type: 'salesforce',
    'consumer-key': 'consumerkey',
    'consumer-secret': 'consumersecret',
    username: 'dev@userevents.com',
    'secret-token': 'secret-token',
    password: 'password',
  },
  twilio: { id: 'twilio', account: 'SID', password: 'Token' },
  sendgrid: { id: 'sendgrid', account: 'username', password: 'password' },
  datasift: { id: 'datasift', 'api-key': 'api-key', username: 'username' },
} as const;
