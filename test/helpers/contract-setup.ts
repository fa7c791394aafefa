import { takeViolations } from './openapi-contract';

/*
 * Jest setupFilesAfterEnv of the e2e suites (issue 17): a test whose requests
 * got an answer the OpenAPI document does not describe fails, with the
 * disagreements. Recorded by the onSend hook that startTestApp installs;
 * answers given during beforeAll count for the first test, during afterAll
 * for the file.
 */
function failOnViolations(): void {
  const violations = takeViolations();
  if (violations.length > 0) {
    throw new Error(
      `${violations.length} answer(s) disagree with the OpenAPI document (/docs-json):\n  ${violations.slice(0, 20).join('\n  ')}`,
    );
  }
}

afterEach(failOnViolations);
afterAll(failOnViolations);
