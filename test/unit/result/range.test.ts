import assert from 'node:assert/strict';
import {Range} from '../../../src/core/result/range.js';
import {UsageError} from '../../../src/core/errors.js';

describe('Range (Nagios threshold syntax)', () => {
  // The table from the Monitoring Plugins guidelines, as reproduced in monitoring.md.
  const cases: Array<[string, number[], number[]]> = [
    ['10', [-1, 10.5, 11], [0, 5, 10]],
    ['10:', [9.99, 0, -5], [10, 1e9]],
    ['~:10', [10.01, 11], [-1e9, 0, 10]],
    ['10:20', [9, 21, 20.001], [10, 15, 20]],
    ['@10:20', [10, 15, 20], [9.999, 20.5]],
    ['0.5', [0.51, -0.1], [0, 0.25, 0.5]],
    ['@~:0', [-3, 0], [0.001]],
  ];
  for (const [spec, alerting, quiet] of cases) {
    it(`'${spec}' alerts for ${alerting.join(', ')} and not for ${quiet.join(', ')}`, () => {
      const r = Range.parse(spec);
      for (const v of alerting) assert.equal(r.alerts(v), true, `${spec} should alert for ${v}`);
      for (const v of quiet) assert.equal(r.alerts(v), false, `${spec} should not alert for ${v}`);
    });
  }

  it('keeps the text as given for perfdata', () => {
    assert.equal(Range.parse('@0.1:0.2').text, '@0.1:0.2');
  });

  for (const bad of ['', '@', '20:10', 'abc', '1:x', '1e3', '--1', '1:2:3']) {
    it(`rejects '${bad}' with a UsageError naming it`, () => {
      assert.throws(() => Range.parse(bad, '--warning'), (e: unknown) => e instanceof UsageError && e.message.includes('--warning'));
    });
  }
});
