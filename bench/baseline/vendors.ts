/**
 * The vendor fields, written out by hand for the baseline (it shares no code
 * with the service). bench/run.ts compares this table with the service's
 * registry before every run and stops if they differ, so the two cannot drift.
 */
export interface BaselineField {
  readonly name: string;
  readonly secret: boolean;
  readonly required: boolean;
  readonly maxLength: number;
}

export interface BaselineVendor {
  readonly type: string;
  /** In wire order. */
  readonly fields: readonly BaselineField[];
  /** Kept from the stored row when a replace does not send them (Salesforce instance). */
  readonly serverAssigned: readonly string[];
}

const plain = (name: string, required = true): BaselineField => ({ name, secret: false, required, maxLength: 512 });
const secret = (name: string): BaselineField => ({ name, secret: true, required: true, maxLength: 2048 });

export const BASELINE_VENDORS: readonly BaselineVendor[] = [
  {
    type: 'salesforce',
    fields: [
      plain('consumer-key'),
      secret('consumer-secret'),
      plain('username'),
      secret('password'),
      secret('secret-token'),
      plain('instance', false),
    ],
    serverAssigned: ['instance'],
  },
  { type: 'twilio', fields: [plain('account'), secret('password')], serverAssigned: [] },
  { type: 'sendgrid', fields: [plain('account'), secret('password')], serverAssigned: [] },
  { type: 'datasift', fields: [plain('username'), secret('api-key')], serverAssigned: [] },
  { type: 'pusher', fields: [plain('key'), secret('secret'), plain('app-id', false)], serverAssigned: [] },
  { type: 'urban-airship', fields: [plain('username'), secret('password')], serverAssigned: [] },
];
