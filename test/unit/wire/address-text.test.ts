import assert from 'node:assert/strict';
import {isIP} from 'node:net';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';

describe('address text parsing', () => {
  // Our parser replaces node's isIPv6 (4 ms of regex compilation per run); it must agree with it.
  const agreeWithNode = [
    '::', '::1', '1::', '2001:db8::1', '2001:db8:100::100', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::ffff:198.51.100.1',
    '::198.51.100.1', '1:2:3:4:5:6:198.51.100.1', 'FE80::AbCd', '1:2:3:4:5:6:7:8:9', ':::', '1:::2', '12345::', 'g::',
    ':198.51.100.1', '198.51.100.1', '256.1.1.1', '1.2.3', '::1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::', '1::2::3',
    '::ffff:1.2.3', '1:2:3:4:5:6:7:1.2.3.4', ':1', '1:', '', ' ', '1.2.3.4.5', '0.0.0.0', '255.255.255.255',
  ];
  for (const text of agreeWithNode) {
    it(`'${text}' -> IPv${isIP(text) || ' none'}`, () => {
      assert.equal(IpAddress.parse(text)?.family ?? 0, isIP(text));
    });
  }

  it('rejects leading zeros in IPv4 octets and zone indexes', () => {
    assert.equal(IpAddress.parse('198.051.100.1'), undefined);
    assert.equal(IpAddress.parse('fe80::1%eth0'), undefined);
  });

  it('prints RFC 5952 canonical IPv6 text', () => {
    assert.equal(IpAddress.parse('2001:0DB8:0000:0000:0000:0000:0000:0001')!.toString(), '2001:db8::1');
    assert.equal(IpAddress.parse('2001:db8:0:1:0:0:0:1')!.toString(), '2001:db8:0:1::1');
    assert.equal(IpAddress.parse('2001:db8:0:0:1:0:0:1')!.toString(), '2001:db8::1:0:0:1');
    assert.equal(IpAddress.parse('1:2:3:4:5:6:7::')!.toString(), '1:2:3:4:5:6:7:0');
  });

  it('checks prefixes across families', () => {
    const ip = IpAddress.parse('198.51.100.11')!;
    assert.ok(ip.inPrefix(IpAddress.parse('198.51.100.0')!, 24));
    assert.ok(!ip.inPrefix(IpAddress.parse('198.51.101.0')!, 24));
    assert.ok(ip.inPrefix(IpAddress.parse('198.51.100.8')!, 29));
    assert.ok(!ip.inPrefix(IpAddress.parse('2001:db8::')!, 0));
  });

  it('parses MAC addresses with colons or dashes', () => {
    assert.equal(MacAddress.parse('02-00-5E-00-01-0A')!.toString(), '02:00:5e:00:01:0a');
    assert.equal(MacAddress.parse('02:00:5e:00:01'), undefined);
    assert.ok(MacAddress.parse('01:00:5e:00:00:01')!.isMulticast);
  });
});
