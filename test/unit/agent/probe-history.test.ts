/**
 * A target's recent probes in place (src/agent/probe-history.ts): oldest first, at most RECENT_PROBES, the ring
 * wrapping without losing order, and the last probe with its summary.
 */
import assert from 'node:assert/strict';
import {ProbeHistory} from '../../../src/agent/probe-history.js';
import {RECENT_PROBES} from '../../../src/agent/status.js';
import {State} from '../../../src/core/result/state.js';

describe('agent probe history', () => {
  it('has nothing before the first probe', () => {
    const history = new ProbeHistory();
    assert.deepEqual(history.recent(), []);
    assert.equal(history.last(), undefined);
  });

  it('keeps the last RECENT_PROBES probes oldest first across the ring wrapping, and the last one in full', () => {
    const history = new ProbeHistory();
    const states = [State.Ok, State.Warning, State.Critical, State.Unknown];
    const total = 2 * RECENT_PROBES + 7;
    for (let i = 0; i < total; i++) history.record(1000 + i, states[i % 4]!, i / 1000, `probe ${i} ${'x'.repeat(i % 3)}`);
    const recent = history.recent();
    assert.equal(recent.length, RECENT_PROBES);
    recent.forEach((record, k) => {
      const i = total - RECENT_PROBES + k;
      assert.deepEqual(record, {at: 1000 + i, state: states[i % 4], seconds: i / 1000});
    });
    const i = total - 1;
    assert.deepEqual(history.last(), {at: 1000 + i, state: states[i % 4], seconds: i / 1000, summary: `probe ${i} ${'x'.repeat(i % 3)}`});
  });

  it('keeps a summary with non-ASCII text as it was', () => {
    const history = new ProbeHistory();
    history.record(1, State.Critical, 0.5, 'no answer from [2001:db8::1]:80 — “VIP” µs');
    assert.equal(history.last()?.summary, 'no answer from [2001:db8::1]:80 — “VIP” µs');
    assert.equal(history.recent().length, 1);
  });
});
