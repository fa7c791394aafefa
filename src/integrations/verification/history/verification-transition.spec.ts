import { verificationTransition } from './verification-transition';

const ok = (message = 'Twilio account "Acme" (AC123) is active') => ({ status: 'ok' as const, message });
const failed = (message = 'Twilio rejected the credentials: Authenticate (code 20003), HTTP 401') => ({ status: 'failed' as const, message });

describe('verificationTransition', () => {
  it('reports a failure after a success, or as the first result', () => {
    expect(verificationTransition(ok(), failed())).toBe('failed');
    expect(verificationTransition(null, failed())).toBe('failed');
  });

  it('reports a failure again only when its reason changed', () => {
    expect(verificationTransition(failed(), failed())).toBeNull();
    expect(verificationTransition(failed(), failed('Twilio account AC123 is suspended'))).toBe('failed');
  });

  it('reports a recovery when a failure is followed by a success', () => {
    expect(verificationTransition(failed(), ok())).toBe('recovered');
  });

  it('says nothing when success follows success or comes first', () => {
    expect(verificationTransition(ok(), ok())).toBeNull();
    expect(verificationTransition(ok('old wording'), ok())).toBeNull();
    expect(verificationTransition(null, ok())).toBeNull();
  });
});
