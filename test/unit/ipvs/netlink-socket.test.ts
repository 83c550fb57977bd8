// The addon's AF_NETLINK socket against this machine's own kernel: nlctrl answers for itself, and a family that
// does not exist is ENOENT. (The host kernel has no ip_vs; the VM lab tests IPVS itself, test/vm/ipvs.test.ts.)
import assert from 'node:assert/strict';
import {addonTransport, NETLINK_GENERIC, NetlinkConnection} from '../../../src/core/netlink/connection.js';
import {resolveFamily} from '../../../src/core/netlink/controller.js';
import {GENL_ID_CTRL} from '../../../src/core/netlink/message.js';

describe('the addon netlink socket on this kernel', function () {
  it('resolves nlctrl to its fixed id and an unknown family to none, and closes', async function () {
    const connection = new NetlinkConnection(addonTransport(NETLINK_GENERIC));
    try {
      assert.equal(await resolveFamily(connection, 'nlctrl'), GENL_ID_CTRL);
      assert.equal(await resolveFamily(connection, 'vipcheck-none'), undefined);
      // GENL_NAMSIZ is 16: the kernel's own reason comes back through the extended ack.
      await assert.rejects(resolveFamily(connection, 'vipcheck-no-such-family'), {
        message: 'generic netlink family vipcheck-no-such-family: the kernel says EINVAL (invalid argument): Attribute failed policy validation',
      });
    } finally {
      connection.close();
    }
    await assert.rejects(resolveFamily(connection, 'nlctrl'), /the netlink socket is closed/);
  });

  it('runs many requests one after another on one socket without leaking replies between them', async function () {
    const connection = new NetlinkConnection(addonTransport(NETLINK_GENERIC));
    try {
      const ids = await Promise.all(Array.from({length: 50}, (_, i) => resolveFamily(connection, i % 2 ? 'nlctrl' : 'vipcheck-none')));
      assert.deepEqual(ids, Array.from({length: 50}, (_, i) => (i % 2 ? GENL_ID_CTRL : undefined)));
    } finally {
      connection.close();
    }
  });
});
