import assert from 'node:assert/strict';
import {bestRoute, chooseSourceAddress, parseIpv4RouteTable, parseIpv6RouteTable} from '../../../src/core/neighbor/route.js';
import {IpAddress} from '../../../src/core/wire/address.js';

const ip = (t: string) => IpAddress.parse(t)!;

// /proc/net/route of a lab director (eth0 198.51.100.2/24, default via 198.51.100.1), as the kernel prints it.
const PROC_NET_ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t016433C6\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t006433C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth1\t007100CB\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
`;

// /proc/net/ipv6_route lines: on-link 2001:db8:100::/64 on eth0 and a default route via fe80::1.
const PROC_NET_IPV6_ROUTE = `20010db8010000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
`;

describe('routing table', () => {
  it('parses /proc/net/route and picks the longest prefix', () => {
    const routes = parseIpv4RouteTable(PROC_NET_ROUTE);
    assert.equal(routes.length, 3);
    const onLink = bestRoute(routes, ip('198.51.100.11'))!;
    assert.equal(onLink.interfaceName, 'eth0');
    assert.equal(onLink.prefixLength, 24);
    assert.equal(onLink.gateway, undefined);
    const viaGateway = bestRoute(routes, ip('192.0.2.1'))!;
    assert.equal(viaGateway.gateway?.toString(), '198.51.100.1');
    assert.equal(bestRoute(routes, ip('203.0.113.9'))!.interfaceName, 'eth1');
  });

  it('parses /proc/net/ipv6_route', () => {
    const routes = parseIpv6RouteTable(PROC_NET_IPV6_ROUTE);
    assert.equal(routes.length, 2, 'the loopback route is skipped');
    assert.equal(bestRoute(routes, ip('2001:db8:100::11'))!.gateway, undefined);
    assert.equal(bestRoute(routes, ip('2001:db8:200::1'))!.gateway?.toString(), 'fe80::1');
  });

  it('sends from the address on the real server subnet, never from a /32 VIP', () => {
    const addresses = [
      {address: ip('198.51.100.100'), prefixLength: 32},
      {address: ip('198.51.100.2'), prefixLength: 24},
    ];
    assert.equal(chooseSourceAddress(addresses, ip('198.51.100.11'))?.toString(), '198.51.100.2');
    assert.equal(chooseSourceAddress(addresses, ip('203.0.113.5'))?.toString(), '198.51.100.2');
    assert.equal(chooseSourceAddress([{address: ip('198.51.100.100'), prefixLength: 32}], ip('198.51.100.11')), undefined);
  });
});
