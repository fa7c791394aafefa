// Adds each jest run's totals to $TEST_SUMMARY_FILE (one JSON line per run),
// so .ci/run can print one closing "N passed, N failed" line over every run.
const { appendFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const file = process.env.TEST_SUMMARY_FILE;
    if (!file) return;
    const { numPassedTests: passed, numFailedTests: failed, numPendingTests: skipped } = results;
    appendFileSync(file, JSON.stringify({ passed, failed, skipped }) + '\n');
  }
}

module.exports = SummaryReporter;
