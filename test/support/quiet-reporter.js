// @ts-check
// JavaScript, not TypeScript: jest loads reporters with plain require(), without the ts-jest transform.
const { DefaultReporter, VerboseReporter } = require('@jest/reporters');

/**
 * jest's default reporter minus what a green file prints: no `PASS file (12 s)` line and none of its console output
 * (the tenant-isolation property's figures, for one). A failing file prints exactly as with the default reporter
 * (its header, its console output, every failure in full); jest's summary reporter, configured beside this one,
 * prints the totals. With `--verbose`, and when jest runs a single file (it turns verbose on by itself then), this is
 * jest's verbose reporter, every file and test printed.
 *
 * @implements {Pick<import('@jest/reporters').Reporter, 'onRunStart' | 'onTestStart' | 'onTestCaseResult' | 'onTestResult' | 'onRunComplete' | 'getLastError'>}
 */
class QuietReporter {
  /** @param {ConstructorParameters<typeof DefaultReporter>[0]} globalConfig */
  constructor(globalConfig) {
    this.verbose = globalConfig.verbose === true;
    // One inner reporter only: each wraps process.stdout and process.stderr when it is built.
    this.inner = this.verbose ? new VerboseReporter(globalConfig) : new DefaultReporter(globalConfig);
  }

  /** @type {DefaultReporter['onRunStart']} */
  onRunStart(results, options) {
    this.inner.onRunStart(results, options);
  }

  /** @type {DefaultReporter['onTestStart']} */
  onTestStart(test) {
    this.inner.onTestStart(test);
  }

  /** @type {DefaultReporter['onTestCaseResult']} */
  onTestCaseResult(test, testCaseResult) {
    this.inner.onTestCaseResult(test, testCaseResult);
  }

  /** @type {DefaultReporter['onTestResult']} */
  onTestResult(test, result, aggregated) {
    const failed = result.numFailingTests > 0 || result.testExecError !== undefined || Boolean(result.failureMessage);
    if (this.verbose || failed) {
      this.inner.onTestResult(test, result, aggregated);
      return;
    }
    // Green: count it (the progress line on a terminal), print nothing.
    this.inner.testFinished(test.context.config, result, aggregated);
    this.inner.forceFlushBufferedOutput();
  }

  onRunComplete() {
    this.inner.onRunComplete();
  }

  getLastError() {
    return this.inner.getLastError();
  }
}

module.exports = QuietReporter;
