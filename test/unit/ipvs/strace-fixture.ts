// Reads the netlink datagrams back out of a strace log made by test/fixtures/ipvs/capture.sh
// (`strace -e trace=sendmsg,recvmsg -e write=all -e read=all -xx`): each call's buffer is dumped as
// ` | 00000  20 00 00 00 ...  ascii |` lines after it. libnl first peeks at every reply (MSG_PEEK|MSG_TRUNC) to size
// its buffer, then reads it; the peeks are left out.
import {readFileSync} from 'node:fs';

export interface TracedDatagram {
  readonly direction: 'sent' | 'received';
  readonly bytes: Buffer;
}

export const FIXTURES = new URL('../../fixtures/ipvs/', import.meta.url);

export function readTrace(name: string): TracedDatagram[] {
  const datagrams: TracedDatagram[] = [];
  let current: {direction: 'sent' | 'received'; peek: boolean; hex: string[]} | undefined;
  const finish = (): void => {
    if (current && !current.peek && current.hex.length > 0) datagrams.push({direction: current.direction, bytes: Buffer.from(current.hex.join(''), 'hex')});
    current = undefined;
  };
  for (const line of readFileSync(new URL(`${name}.strace`, FIXTURES), 'utf8').split('\n')) {
    const call = /^(sendmsg|recvmsg)\(.*\)\s*=\s*(-?\d+)/.exec(line);
    if (call) {
      finish();
      if (Number(call[2]) > 0) current = {direction: call[1] === 'sendmsg' ? 'sent' : 'received', peek: /MSG_PEEK/.test(line), hex: []};
      continue;
    }
    const dump = /^ \| [0-9a-f]{5}  ((?:[0-9a-f]{2} {1,2}){1,16})/.exec(line);
    if (dump && current) current.hex.push(dump[1]!.replace(/\s+/g, ''));
  }
  finish();
  return datagrams;
}
