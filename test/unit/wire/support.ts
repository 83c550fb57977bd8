/** Helpers shared by the wire codec tests. */
import assert from 'node:assert/strict';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';
import {EthernetFrame} from '../../../src/core/wire/ethernet.js';
import {decodeFrame, type DecodedFrame} from '../../../src/core/wire/frame.js';
import type {IpPacketView} from '../../../src/core/wire/ip.js';
import type {Parsed} from '../../../src/core/wire/parsed.js';
import type {TcpSegment} from '../../../src/core/wire/tcp.js';
import {frameBytes, kernelFrames, type KernelFrame} from '../../fixtures/wire/kernel-frames.js';

export const CLIENT_MAC = mac('02:00:00:00:00:01');
export const SERVER_MAC = mac('02:00:00:00:00:0b');
export const CLIENT_V4 = ip('198.51.100.2');
export const SERVER_V4 = ip('198.51.100.100');
export const CLIENT_V6 = ip('2001:db8::2');
export const SERVER_V6 = ip('2001:db8::100');

export function mac(text: string): MacAddress {
  const parsed = MacAddress.parse(text);
  assert.ok(parsed, text);
  return parsed;
}

export function ip(text: string): IpAddress {
  const parsed = IpAddress.parse(text);
  assert.ok(parsed, text);
  return parsed;
}

/** The value of a parse that must succeed (the assertion message is the failure reason). */
export function unwrap<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) assert.fail(`unexpected parse failure: ${parsed.error}`);
  return parsed.value;
}

/** The reason of a parse that must fail. */
export function failure<T>(parsed: Parsed<T>): string {
  assert.equal(parsed.ok, false, 'expected the parse to fail');
  return parsed.ok ? '' : parsed.error;
}

export function decode(frame: KernelFrame | Buffer): DecodedFrame {
  return unwrap(decodeFrame(Buffer.isBuffer(frame) ? frame : frameBytes(frame)));
}

export interface TcpFrame {
  name: string;
  frame: KernelFrame;
  ip: IpPacketView;
  tcp: TcpSegment;
}

/** Every captured kernel frame that carries TCP, decoded. */
export function kernelTcpFrames(): TcpFrame[] {
  return Object.entries(kernelFrames).flatMap(([name, frame]) => {
    const {ip, tcp} = decode(frame);
    return ip && tcp ? [{name, frame, ip, tcp}] : [];
  });
}

/** The frame zero-padded to the Ethernet minimum, as a receiving NIC would deliver a short frame. */
export function padded(frame: Buffer): Buffer {
  return Buffer.concat([frame, Buffer.alloc(Math.max(0, EthernetFrame.MIN_LENGTH - frame.length))]);
}

/** Deterministic PRNG (mulberry32), so that the random tests are the same on every run. */
export {seededRandom} from '../../../src/core/link/memory-link.js';
