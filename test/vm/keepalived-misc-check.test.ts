// Scenario 2 of issue 9, on a real IPVS director in a VM (src/lab/vm/guest/keepalived-dr.ts): the cure. The same
// DR service with MISC_CHECK running `vipcheck tcp --exit-codes keepalived`, which travels the VIP path: the real
// server that loses its VIP is removed, the healthy one stays, and clients never see a failure.

import assert from 'node:assert/strict';
import { assertAdmittedByChecks, describeVmScenario } from './harness.js';

describeVmScenario('keepalived-misc-check', (s) => {
  it('uses MISC_CHECK running vipcheck tcp with keepalived exit codes, vipcheck timeout below misc_timeout', () => {
    const m = /misc_path "(\S+) (\S+) tcp --vip (\S+) --rs (\S+) --port 80 --timeout (\d+) --exit-codes keepalived"/.exec(s.result.config);
    assert.ok(m, s.result.config);
    assert.match(m[2] ?? '', /\/bin\/run\.cjs$/);
    const misc = /misc_timeout (\d+)/.exec(s.result.config);
    assert.ok(misc && Number(misc[1]) > Number(m[5]), 'misc_timeout exceeds vipcheck --timeout');
  });

  it('admitted good and novip after vipcheck passed them (alpha mode), and never closed (VIP-path RST)', () => assertAdmittedByChecks(s.result));

  it('removed novip once it lost its VIP, and kept good', () => {
    const removed = s.result.novipRemovedAfterMs;
    assert.notEqual(removed, null, `novip still in the table ${s.result.watchedAfterFaultMs} ms after losing its VIP`);
    console.log(`      keepalived removed novip ${removed} ms after its VIP was deleted (delay_loop 5 s)`);
    assert.deepEqual(s.result.tableAfterRequests, [s.result.hosts.good]);
    // good never left the table once it had joined.
    const joined = s.result.timeline.findIndex((t) => t.realServers.includes(s.result.hosts.good));
    assert.ok(s.result.timeline.slice(joined).every((t) => t.realServers.includes(s.result.hosts.good)), JSON.stringify(s.result.timeline));
  });

  it('so every client request succeeded, served by good', () => {
    assert.ok(s.result.requests.length >= 6);
    assert.deepEqual(s.result.requests.filter((r) => !r.ok), [], 'failed requests');
    assert.deepEqual([...new Set(s.result.requests.map((r) => r.server))], ['good']);
  });
});
