// The VM lab's guest itself (src/lab/vm/qemu.ts, guest-init.ts), in one boot: the kernel is the cached Debian one,
// the host root is read-only, the kernel's own module requests and the modules this machine's kernel lacks work,
// and a scenario that overruns is ended by the guest's own deadline, leaving nothing behind.

import assert from 'node:assert/strict';
import { findGuestKernel } from '../../src/lab/vm/kernel.js';
import { type GuestResult, runGuest } from '../../src/lab/vm/qemu.js';
import { leftoversOfThisProcess, requireVmOrSkip } from './harness.js';

const DEADLINE_MS = 40_000;

const SCRIPT = `
uname -r
if touch /usr/vipcheck-vm-write-test 2>/dev/null; then echo root-writable; else echo root-read-only; fi
touch /tmp/x && echo tmp-writable
# No explicit modprobe: the kernel asks for rtnl-link-dummy itself.
ip link add d0 type dummy && echo dummy-created
modprobe ipip && ip -br link show tunl0
modprobe fou && modprobe ip_gre && echo fou-gre-loaded
echo sleeping
exec sleep 600
`;

describe('VM lab: the guest', function () {
  this.timeout(DEADLINE_MS + 30_000);
  let guest: GuestResult | undefined;
  const g = (): GuestResult => {
    assert.ok(guest, 'the guest ran');
    return guest;
  };

  before(async function () {
    requireVmOrSkip(this);
    guest = await runGuest({ script: SCRIPT, modules: ['veth'], timeoutMs: DEADLINE_MS });
  });

  it('runs the cached Debian kernel on the host root, read-only, with writable tmpfs', () => {
    const lines = g().output.split('\n');
    assert.equal(lines[0], findGuestKernel().version, g().output);
    assert.ok(lines.includes('root-read-only'), g().output);
    assert.ok(lines.includes('tmp-writable'), g().output);
  });

  it('loads what this machine cannot: dummy on the kernel\'s own request, ipip (with its tunl0), fou, ip_gre', () => {
    assert.match(g().output, /^dummy-created$/m);
    assert.match(g().output, /^tunl0@NONE\s+DOWN/m);
    assert.match(g().output, /^fou-gre-loaded$/m);
  });

  it('ends an overrunning scenario at the guest\'s own deadline (SIGKILL, 137) and powers off before the hard one', () => {
    assert.match(g().output, /^sleeping$/m);
    assert.equal(g().exitStatus, 137);
    assert.equal(g().timedOut, false);
    assert.ok(g().timings.totalMs < DEADLINE_MS, `${g().timings.totalMs} ms`);
    assert.match(g().console, /scenario-end 137/);
  });

  it('leaves no qemu process and no share directory behind', () => {
    g();
    assert.deepEqual(leftoversOfThisProcess(), { processes: [], shares: [] });
  });
});
