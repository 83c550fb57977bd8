/**
 * The agent's source-port block: quarantine after release, and how long ago a port's last flow ended (the
 * agent stays silent to strays for a moment after a flow, network.ts). Reserving binds real listening sockets,
 * which any user may do above 1024.
 */
import assert from 'node:assert/strict';
import {PortBlock} from '../../../src/core/flow/port-block.js';

describe('PortBlock', () => {
  let now = 0;
  let block: PortBlock;

  beforeEach(() => {
    now = 1000;
    block = PortBlock.reserve({size: 16, quarantineMs: 500, range: [46000, 46999], now: () => now});
  });
  afterEach(() => block.close());

  it('tells how long ago a port was released, and Infinity for one never used or not of the block', () => {
    const port = block.acquire()!;
    assert.ok(block.holds(port));
    assert.equal(block.sinceReleased(port), Infinity);
    now = 2000;
    block.release(port);
    now = 2040;
    assert.equal(block.sinceReleased(port), 40);
    assert.equal(block.sinceReleased(block.base + block.size), Infinity, 'past the block');
    assert.equal(block.sinceReleased(block.base - 1), Infinity, 'before the block');
  });

  it('hands a released port out again only after its quarantine, least recently released first', () => {
    const ports: number[] = [];
    for (let port = block.acquire(); port !== undefined; port = block.acquire()) ports.push(port);
    assert.equal(ports.length, block.available);
    block.release(ports[0]!);
    now += 499;
    assert.equal(block.acquire(), undefined, 'still resting');
    now += 1;
    assert.equal(block.acquire(), ports[0]);
  });
});
