// The IPVS netlink codec and NetlinkIpvsControl against ipvsadm's real traffic with the guest's 6.1 kernel
// (test/fixtures/ipvs/*.strace, made by capture.sh in the VM lab), replayed by an in-memory kernel.
import assert from 'node:assert/strict';
import {NetlinkIpvsControl, IPVS_NOT_LOADED, IpvsPermissionError} from '../../../src/core/ipvs/netlink-control.js';
import {decodeDestination, destinationAttribute, IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE, IpvsCommand, serviceKeyAttribute} from '../../../src/core/ipvs/netlink-codec.js';
import {describeServiceKey, type IpvsServiceKey, type IpvsTable} from '../../../src/core/ipvs/model.js';
import {AttributeSet, encodeMessage, parseErrorReply, parseGeneric, parseMessages, type NetlinkMessage} from '../../../src/core/netlink/message.js';
import {IpAddress} from '../../../src/core/wire/address.js';
import {capturedExchanges, replayKernel} from './replay-kernel.js';
import {readTrace} from './strace-fixture.js';

const ip = (text: string): IpAddress => IpAddress.parse(text)!;
const tcp = (address: string, port: number): IpvsServiceKey => ({kind: 'address', protocol: 'tcp', address: ip(address), port});

/** The table as `ipvsadm -Ln --tun-info` printed it when the fixture was captured (list-tun-info.txt, before set-dest). */
function summary(table: IpvsTable): string[] {
  return table.services.flatMap(({service, destinations}) => [
    `${describeServiceKey(service.key)} ${service.scheduler}${service.flags & 1 ? ` persistent ${service.timeout}` : ''}`,
    ...destinations.map((d) => {
      const host = d.address.family === 6 ? `[${d.address}]` : `${d.address}`;
      const tunnel = d.forwarding === 'tun' ? ` ${d.tunnelType}${d.tunnelType === 'gue' ? `:${d.tunnelPort}` : ''}` : '';
      return `  -> ${host}:${d.port} ${d.forwarding}${tunnel} w${d.weight} x${d.upperThreshold} y${d.lowerThreshold}`;
    }),
  ]);
}

const CAPTURED_TABLE = [
  'TCP 198.51.100.100:80 rr',
  '  -> 198.51.100.12:80 dr w3 x100 y10',
  '  -> 198.51.100.11:80 dr w5 x0 y0',
  'UDP 198.51.100.102:53 rr',
  '  -> 203.0.113.31:5353 nat w1 x0 y0',
  'TCP [2001:db8::100]:80 rr',
  '  -> [2001:db8::11]:80 dr w4 x0 y0',
  'TCP 198.51.100.101:443 wrr persistent 300',
  '  -> 203.0.113.23:443 tun gre w1 x0 y0',
  '  -> 203.0.113.22:443 tun ipip w1 x0 y0',
  '  -> 203.0.113.21:443 tun gue:6080 w2 x0 y0',
  'FWM 7 (IPv4) rr',
  '  -> 198.51.100.13:0 dr w1 x0 y0',
];

describe('IPVS netlink codec (ipvsadm 1.31 traffic, Linux 6.1)', function () {
  it('every captured datagram parses as whole netlink messages', function () {
    for (const name of ['list', 'list-tun-info', 'set-dest', 'add-dest', 'del-dest', 'del-missing']) {
      const datagrams = readTrace(name);
      assert.ok(datagrams.length > 3, name);
      for (const datagram of datagrams) assert.equal(parseMessages(datagram.bytes).ok, true, name);
    }
  });

  it('reads the GET_SERVICE and GET_DEST dump replies: DR with thresholds, TUN ipip/GUE+port/GRE, NAT with a port change, fwmark, IPv6', async function () {
    const control = await NetlinkIpvsControl.open({transport: replayKernel('list-tun-info').factory});
    const table = await control.read();
    control.close();
    assert.equal(table.source, 'netlink');
    assert.deepEqual(summary(table), CAPTURED_TABLE);
    const persistent = table.services[3]!.service;
  });

  it('builds the DEST attribute of SET_DEST with the same fields ipvsadm sends for a GUE weight change', function () {
    const sent = capturedExchanges('set-dest').map((e) => e.key);
    assert.ok(sent.includes(`${IpvsCommand.SET_DEST} TCP 198.51.100.101:443`), sent.join(', '));
    const request = readTrace('set-dest').filter((d) => d.direction === 'sent').at(-1)!;
    const message = (parseMessages(request.bytes) as {ok: true; value: NetlinkMessage[]}).value[0]!;
    const theirs = generic(message.payload).attributes;
    const theirDest = nested(theirs.raw(IPVS_CMD_ATTR_DEST)!);
    const mine = nested(
      destinationAttribute({
        address: ip('203.0.113.21'),
        port: 443,
        forwarding: 'tun',
        weight: 7,
        upperThreshold: 0,
        lowerThreshold: 0,
        tunnelType: 'gue',
        tunnelPort: 6080,
        tunnelFlags: 0,
      }).subarray(4),
    );
    // ipvsadm leaves out ADDR_FAMILY (11) where the family is the service's; vipcheck always sends it.
    for (const type of [1, 2, 3, 4, 5, 6, 13, 14, 15]) assert.deepEqual(mine.raw(type), theirDest.raw(type), `attribute ${type}`);
    assert.equal(mine.u16(11), 2);
    const theirService = nested(theirs.raw(IPVS_CMD_ATTR_SERVICE)!);
    const myService = nested(serviceKeyAttribute(tcp('198.51.100.101', 443)).subarray(4));
    for (const type of [1, 2, 3, 4]) assert.deepEqual(myService.raw(type), theirService.raw(type), `service attribute ${type}`);
  });

  it('round-trips destinations of every kind through its own encoder and decoder', function () {
    const destinations = [
      {address: ip('203.0.113.21'), port: 443, forwarding: 'tun', weight: 7, upperThreshold: 9, lowerThreshold: 2, tunnelType: 'gue', tunnelPort: 6080, tunnelFlags: 1},
      {address: ip('2001:db8::11'), port: 80, forwarding: 'dr', weight: 0, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelFlags: 0},
      {address: ip('203.0.113.31'), port: 5353, forwarding: 'nat', weight: 2147483647, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'gre', tunnelPort: 0, tunnelFlags: 2},
    ] as const;
    for (const d of destinations) {
      const decoded = decodeDestination(nested(destinationAttribute(d).subarray(4)), 4);
      assert.deepEqual(decoded, {ok: true, value: {...d, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0}});
    }
  });

  it('turns the kernel ESRCH of a DEL_DEST on a missing service into a one-line error', async function () {
    const reply = readTrace('del-missing').at(-1)!;
    const error = parseErrorReply((parseMessages(reply.bytes) as {ok: true; value: NetlinkMessage[]}).value[0]!);
    assert.deepEqual(error, {ok: true, value: {errno: 3, kernelMessage: undefined}});
    const kernel = replayKernel('list-tun-info');
    kernel.answer(`${IpvsCommand.DEL_DEST}`, [reply.bytes]);
    const control = await NetlinkIpvsControl.open({transport: kernel.factory});
    await assert.rejects(control.removeDestination(tcp('198.51.100.200', 80), {address: ip('198.51.100.11'), port: 80}), {
      message: 'IPVS DEL_DEST TCP 198.51.100.200:80 -> 198.51.100.11:80: the kernel says ESRCH (no such process)',
    });
    control.close();
  });

  it('rejects malformed replies with one line, never a throw from inside', function () {
    assert.deepEqual(parseMessages(Buffer.from([0x30, 0, 0, 0, 1, 0])), {ok: false, error: 'netlink: 6 trailing bytes are no message header'});
    const header = encodeMessage({type: 32, flags: 0, sequence: 1, portId: 0}, Buffer.alloc(8));
    header.writeUInt32LE(200, 0);
    assert.match((parseMessages(header) as {error: string}).error, /message length 200 at offset 0 does not fit the 24-byte reply/);
    assert.match((AttributeSet.parse(Buffer.from([9, 0, 1, 0, 1])) as {error: string}).error, /attribute length 9/);
    // Every truncation of a real dump reply parses or fails cleanly.
    const dump = readTrace('list-tun-info').find((d) => d.direction === 'received' && d.bytes.length > 1000)!.bytes;
    for (let cut = 0; cut < dump.length; cut += 7) {
      const parsed = parseMessages(dump.subarray(0, cut));
      if (parsed.ok) for (const m of parsed.value) parseGeneric(m.payload);
    }
  });
});

describe('NetlinkIpvsControl', function () {
  it('writes a weight change as a read-modify-write of the whole destination (GUE port and thresholds kept)', async function () {
    const kernel = replayKernel('list-tun-info');
    const control = await NetlinkIpvsControl.open({transport: kernel.factory});
    await control.updateDestination(tcp('198.51.100.101', 443), {address: ip('203.0.113.21'), port: 443}, {weight: 0});
    await control.updateDestination(tcp('198.51.100.100', 80), {address: ip('198.51.100.12'), port: 80}, {weight: 1});
    control.close();
    const writes = kernel.written.map((m) => {
      const attributes = generic(m.payload).attributes;
      const decoded = decodeDestination(nested(attributes.raw(IPVS_CMD_ATTR_DEST)!), 4);
      assert.ok(decoded.ok);
      return {command: generic(m.payload).command, ...decoded.value};
    });
    assert.deepEqual(
      writes.map((w) => [w.command, `${w.address}`, w.forwarding, w.weight, w.tunnelType, w.tunnelPort, w.upperThreshold, w.lowerThreshold]),
      [
        [IpvsCommand.SET_DEST, '203.0.113.21', 'tun', 0, 'gue', 6080, 0, 0],
        [IpvsCommand.SET_DEST, '198.51.100.12', 'dr', 1, 'ipip', 0, 100, 10],
      ],
    );
  });

  it("runs a write asked for during a read after the read's last request", async function () {
    const kernel = replayKernel('list-tun-info');
    const control = await NetlinkIpvsControl.open({transport: kernel.factory});
    const reading = control.read();
    const writing = control.updateDestination(tcp('198.51.100.100', 80), {address: ip('198.51.100.11'), port: 80}, {weight: 0});
    await Promise.all([reading, writing]);
    control.close();
    assert.deepEqual(kernel.requests.map((key) => key.split(' ')[0]), ['ctrl', '15', '4', '8', '8', '8', '8', '8', '8', '6', '8']);
  });

  it('refuses a weight the kernel cannot store and a destination that is not in the table', async function () {
    const control = await NetlinkIpvsControl.open({transport: replayKernel('list-tun-info').factory});
    await assert.rejects(control.updateDestination(tcp('198.51.100.100', 80), {address: ip('198.51.100.12'), port: 80}, {weight: -1}), /weight -1 is not an integer/);
    await assert.rejects(control.updateDestination(tcp('198.51.100.100', 80), {address: ip('198.51.100.99'), port: 80}, {weight: 1}), {
      message: 'IPVS: no real server 198.51.100.99:80 in TCP 198.51.100.100:80',
    });
    control.close();
  });

  it('says IPVS is not loaded when nlctrl knows no family IPVS (ENOENT)', async function () {
    const kernel = replayKernel('list-tun-info');
    kernel.refuse('ctrl', 2);
    await assert.rejects(NetlinkIpvsControl.open({transport: kernel.factory}), {message: IPVS_NOT_LOADED});
  });

  it('says CAP_NET_ADMIN is needed when the kernel answers EPERM', async function () {
    const kernel = replayKernel('list-tun-info');
    kernel.refuse(`${IpvsCommand.GET_INFO}`, 1);
    await assert.rejects(NetlinkIpvsControl.open({transport: kernel.factory}), (error: Error) => {
      assert.ok(error instanceof IpvsPermissionError);
      assert.equal(error.message, 'IPVS netlink needs CAP_NET_ADMIN, even to read (the kernel says EPERM (operation not permitted))');
      return true;
    });
  });

  it('gives up at its deadline when the kernel does not finish a dump', async function () {
    const kernel = replayKernel('list-tun-info');
    kernel.ignore(`${IpvsCommand.GET_SERVICE}`);
    const control = await NetlinkIpvsControl.open({transport: kernel.factory, deadlineMs: 50});
    await assert.rejects(control.read(), {message: 'IPVS GET_SERVICE: no complete reply from the kernel within 50 ms'});
    control.close();
  });

  it('keeps every request of a read within an absolute deadline', async function () {
    const kernel = replayKernel('list-tun-info');
    kernel.ignore(`${IpvsCommand.GET_DEST}`);
    const control = await NetlinkIpvsControl.open({transport: kernel.factory, deadline: performance.now() + 80});
    const started = performance.now();
    await assert.rejects(control.read(), /IPVS GET_DEST TCP 198\.51\.100\.100:80: no complete reply from the kernel within \d+ ms/);
    assert.ok(performance.now() - started < 500, 'ended at the deadline, not after the default 5 s');
    control.close();
  });

  it('reports a malformed dump entry as one line', async function () {
    const kernel = replayKernel('list-tun-info');
    const service = Buffer.concat([Buffer.from([IpvsCommand.NEW_SERVICE, 1, 0, 0]), serviceKeyAttribute(tcp('198.51.100.1', 1))]);
    kernel.answer(`${IpvsCommand.GET_SERVICE}`, [
      Buffer.concat([encodeMessage({type: 32, flags: 2, sequence: 0, portId: 0}, service), encodeMessage({type: 3, flags: 2, sequence: 0, portId: 0}, Buffer.alloc(4))]),
    ]);
    const control = await NetlinkIpvsControl.open({transport: kernel.factory});
    await assert.rejects(control.read(), {message: 'malformed IPVS netlink reply: IPVS service: the flags attribute is missing or malformed'});
    control.close();
  });
});

function generic(payload: Buffer) {
  const parsed = parseGeneric(payload);
  assert.ok(parsed.ok);
  return parsed.value;
}

function nested(data: Buffer): AttributeSet {
  const parsed = AttributeSet.parse(data);
  assert.ok(parsed.ok);
  return parsed.value;
}
