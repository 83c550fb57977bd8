// Scenario 1 of issue 9, on a real IPVS director in a VM (src/lab/vm/guest/keepalived-dr.ts): the problem
// vipcheck exists for. keepalived's own TCP_CHECK connects to RIP:80, which a real server that lost its VIP still
// answers, so the server stays in the table and clients whose connections IPVS sends there fail.

import assert from 'node:assert/strict';
import { assertAdmittedByChecks, describeVmScenario } from './harness.js';

describeVmScenario('keepalived-tcp-check', (s) => {
  it('uses TCP_CHECK, not MISC_CHECK', () => {
    assert.match(s.result.config, /TCP_CHECK \{/);
    assert.doesNotMatch(s.result.config, /MISC_CHECK/);
  });

  it('admitted good and novip after passing checks (alpha mode), and never closed (nothing listens)', () => assertAdmittedByChecks(s.result));

  it('kept novip in the table for the whole watch after it lost its VIP', () => {
    assert.equal(s.result.novipRemovedAfterMs, null, 'TCP_CHECK removed novip, which a RIP check cannot see');
    assert.ok(s.result.watchedAfterFaultMs >= 15_000, `watched ${s.result.watchedAfterFaultMs} ms, at least three check rounds`);
    assert.ok(s.result.tableAfterRequests.includes(s.result.hosts.novip), 'novip still in the table after the requests');
  });

  it('so clients saw failed requests (timeouts), while the requests that worked were served by good', () => {
    const failed = s.result.requests.filter((r) => !r.ok);
    const served = s.result.requests.filter((r) => r.ok);
    assert.ok(failed.length > 0, `no request failed: ${JSON.stringify(s.result.requests)}`);
    assert.ok(served.length > 0, 'no request succeeded either: the lab is broken, not just novip');
    assert.deepEqual([...new Set(failed.map((r) => r.error))], ['timeout'], 'novip drops VIP traffic silently');
    assert.deepEqual([...new Set(served.map((r) => r.server))], ['good']);
  });
});
