/**
 * What a new verification result changes for the people watching an
 * integration (issue 15's webhook events integration.verification.failed and
 * …recovered), against the previous result of that integration, whatever
 * revision it checked: the credentials broke (ok → failed, or the first
 * result is a failure), broke differently (failed with a new reason),
 * recovered (failed → ok), or nothing worth telling.
 */
export type VerificationTransition = 'failed' | 'recovered';

export interface ResultSummary {
  status: 'ok' | 'failed';
  message: string;
}

export function verificationTransition(previous: ResultSummary | null, next: ResultSummary): VerificationTransition | null {
  if (next.status === 'failed') {
    if (previous === null || previous.status !== 'failed') return 'failed';
    return previous.message === next.message ? null : 'failed';
  }
  return previous?.status === 'failed' ? 'recovered' : null;
}
