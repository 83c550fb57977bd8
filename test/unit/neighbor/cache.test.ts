/**
 * The agent's neighbour cache (src/core/neighbor/cache.ts) with a scripted resolve function and a manual clock:
 * a fresh entry answers with `requests` 0 and no resolution, an expired one is resolved again, concurrent
 * lookups share one resolution, failures are counted and never cached (whether the resolver rejects or throws),
 * a resolution finding another MAC tells the change listeners the previous and the current one, forget() forces
 * a resolution yet keeps the old MAC for that report, and remove() forgets the address entirely.
 */
import assert from 'node:assert/strict';
import {NeighborCache} from '../../../src/core/neighbor/cache.js';
import type {ResolvedNeighbor} from '../../../src/core/neighbor/resolve.js';
import {NeighborTimeoutError} from '../../../src/core/neighbor/resolve.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';

const ip = (text: string) => IpAddress.parse(text)!;
const mac = (text: string) => MacAddress.parse(text)!;
const SOURCE = ip('198.51.100.2');
const RS = ip('198.51.100.11');
const RS2 = ip('198.51.100.12');
const MAC_A = mac('02:00:00:00:00:aa');
const MAC_B = mac('02:00:00:00:00:bb');
const TTL = 60_000;

interface Call {
  readonly target: string;
  readonly deadline: number;
  /** Settles this resolution. */
  answer(mac: MacAddress, requests?: number): void;
  fail(error?: Error): void;
}

/** A cache whose resolutions wait for the test to answer them, on a clock the test moves. */
function harness() {
  let time = 1000;
  const calls: Call[] = [];
  const cache = new NeighborCache({
    ttlMs: TTL,
    now: () => time,
    minRefreshMs: 0,
    resolve: (target, _source, deadline) =>
      new Promise<ResolvedNeighbor>((resolve, reject) => {
        calls.push({
          target: target.toString(),
          deadline,
          answer: (m, requests = 1) => resolve({mac: m, protocol: 'ARP', requests, elapsedMs: 3}),
          fail: (error = new NeighborTimeoutError(`no answer from ${target}`, 'ARP')) => reject(error),
        });
      }),
  });
  const changes: Array<{address: string; previous: string; current: string}> = [];
  cache.onChange((address, previous, current) => changes.push({address: address.toString(), previous: previous.toString(), current: current.toString()}));
  /** A lookup whose resolution (if any) is answered with `answer`. */
  const resolved = async (target: IpAddress, answer: MacAddress) => {
    const before = calls.length;
    const pending = cache.lookup(target, SOURCE, time + 1000);
    await Promise.resolve();
    if (calls.length > before) calls[calls.length - 1]!.answer(answer);
    return pending;
  };
  return {
    cache,
    calls,
    changes,
    resolved,
    advance: (ms: number) => (time += ms),
    get now() {
      return time;
    },
  };
}

describe('neighbor/cache: when the agent resolves a real server again', () => {
  it('resolves on the first lookup, then answers from the cache within the ttl (requests 0, no resolution)', async () => {
    const h = harness();
    const first = await h.resolved(RS, MAC_A);
    assert.ok(first.mac.equals(MAC_A));
    assert.equal(first.requests, 1);
    assert.equal(h.calls.length, 1);
    assert.equal(h.calls[0]!.target, '198.51.100.11');
    assert.equal(h.calls[0]!.deadline, h.now + 1000, 'the lookup deadline is passed to the resolver');

    h.advance(TTL - 1);
    const hit = await h.cache.lookup(RS, SOURCE, h.now + 1000);
    assert.ok(hit.mac.equals(MAC_A));
    assert.equal(hit.requests, 0);
    assert.equal(hit.protocol, 'ARP');
    assert.equal(h.calls.length, 1, 'no resolution for a fresh entry');
    assert.deepEqual(h.cache.counters, {hits: 1, resolutions: 1, failures: 0, changes: 0});
  });

  it('resolves again once the ttl has passed', async () => {
    const h = harness();
    await h.resolved(RS, MAC_A);
    h.advance(TTL);
    const again = await h.resolved(RS, MAC_A);
    assert.equal(again.requests, 1, 'an expired entry is not a hit');
    assert.equal(h.calls.length, 2);
    assert.deepEqual(h.cache.counters, {hits: 0, resolutions: 2, failures: 0, changes: 0});
    // The new resolution restarts the ttl.
    h.advance(TTL - 1);
    assert.equal((await h.cache.lookup(RS, SOURCE, h.now + 1000)).requests, 0);
  });

  it('concurrent lookups of one address share one resolution; another address gets its own', async () => {
    const h = harness();
    const lookups = Array.from({length: 10}, () => h.cache.lookup(RS, SOURCE, h.now + 1000));
    const other = h.cache.lookup(RS2, SOURCE, h.now + 1000);
    await Promise.resolve();
    assert.deepEqual(
      h.calls.map((c) => c.target),
      ['198.51.100.11', '198.51.100.12'],
    );
    h.calls[0]!.answer(MAC_A);
    h.calls[1]!.answer(MAC_B);
    const results = await Promise.all(lookups);
    for (const result of results) assert.ok(result.mac.equals(MAC_A));
    assert.ok((await other).mac.equals(MAC_B));
    assert.equal(h.cache.counters.resolutions, 2);
    assert.equal(h.cache.size, 2);
  });

  it('a failed resolution is counted, rejects every waiter, and is not cached', async () => {
    const h = harness();
    const a = h.cache.lookup(RS, SOURCE, h.now + 1000);
    const b = h.cache.lookup(RS, SOURCE, h.now + 1000);
    await Promise.resolve();
    assert.equal(h.calls.length, 1);
    h.calls[0]!.fail();
    await assert.rejects(a, NeighborTimeoutError);
    await assert.rejects(b, NeighborTimeoutError);
    assert.equal(h.cache.counters.failures, 1);
    assert.equal(h.cache.size, 0);

    // No time passes: the next lookup asks again.
    const next = await h.resolved(RS, MAC_A);
    assert.ok(next.mac.equals(MAC_A));
    assert.equal(h.calls.length, 2);
    assert.deepEqual(h.cache.counters, {hits: 0, resolutions: 2, failures: 1, changes: 0});
  });

  it('a failure after an expired entry does not bring the stale MAC back', async () => {
    const h = harness();
    await h.resolved(RS, MAC_A);
    h.advance(TTL);
    const pending = h.cache.lookup(RS, SOURCE, h.now + 1000);
    await Promise.resolve();
    h.calls[1]!.fail();
    await assert.rejects(pending, NeighborTimeoutError);
    const retry = h.cache.lookup(RS, SOURCE, h.now + 1000);
    await Promise.resolve();
    assert.equal(h.calls.length, 3, 'the stale entry is not served');
    h.calls[2]!.answer(MAC_A);
    assert.equal((await retry).requests, 1);
  });

  it('a resolver that throws synchronously is counted as a failure and not cached either', async () => {
    let calls = 0;
    const cache = new NeighborCache({
      ttlMs: TTL,
      now: () => 0,
      resolve: (target) => {
        calls++;
        if (calls === 1) throw new TypeError(`cannot resolve ${target}`);
        return Promise.resolve({mac: MAC_A, protocol: 'ARP', requests: 1, elapsedMs: 1});
      },
    });
    await assert.rejects(cache.lookup(RS, SOURCE, 1000), TypeError);
    assert.equal(cache.counters.failures, 1);
    const second = await cache.lookup(RS, SOURCE, 1000).then(
      (resolved) => resolved,
      (error: unknown) => error,
    );
    assert.equal(calls, 2, `the second lookup must resolve again, it got the first failure back: ${String(second)}`);
    assert.ok((second as ResolvedNeighbor).mac.equals(MAC_A));
  });

  it('a resolution that finds another MAC tells the listeners the previous and the current one', async () => {
    const h = harness();
    await h.resolved(RS, MAC_A);
    h.advance(TTL);
    await h.resolved(RS, MAC_A);
    assert.deepEqual(h.changes, [], 'the same MAC again is no change');
    h.advance(TTL);
    const moved = await h.resolved(RS, MAC_B);
    assert.ok(moved.mac.equals(MAC_B));
    assert.deepEqual(h.changes, [{address: '198.51.100.11', previous: '02:00:00:00:00:aa', current: '02:00:00:00:00:bb'}]);
    assert.equal(h.cache.counters.changes, 1);
    // The cache now holds the new MAC.
    assert.ok((await h.cache.lookup(RS, SOURCE, h.now + 1000)).mac.equals(MAC_B));
  });

  it('forget() leaves an entry younger than minRefreshMs (a failing server does not cost an ARP per probe)', async () => {
    const resolved: string[] = [];
    let time = 0;
    const cache = new NeighborCache({
      ttlMs: TTL,
      now: () => time,
      minRefreshMs: 5000,
      resolve: async (target) => {
        resolved.push(target.toString());
        return {mac: MAC_A, protocol: 'ARP', requests: 1, elapsedMs: 1};
      },
    });
    await cache.lookup(RS, SOURCE, 1000);
    time = 4000;
    cache.forget(RS);
    assert.equal((await cache.lookup(RS, SOURCE, 5000)).requests, 0, 'kept: resolved 4 s ago');
    time = 5000;
    cache.forget(RS);
    assert.equal((await cache.lookup(RS, SOURCE, 6000)).requests, 1, 'resolved again: 5 s old');
    assert.equal(resolved.length, 2);
  });

  it('forget() forces a resolution within the ttl but keeps the old MAC for the change report', async () => {
    const h = harness();
    await h.resolved(RS, MAC_A);
    h.advance(10);
    h.cache.forget(RS);
    assert.equal(h.cache.size, 1, 'the entry is kept');
    const after = await h.resolved(RS, MAC_B);
    assert.equal(after.requests, 1, 'resolved again although the ttl has not passed');
    assert.equal(h.calls.length, 2);
    assert.deepEqual(h.changes, [{address: '198.51.100.11', previous: '02:00:00:00:00:aa', current: '02:00:00:00:00:bb'}]);
    // The fresh resolution is cached as usual.
    assert.equal((await h.cache.lookup(RS, SOURCE, h.now + 1000)).requests, 0);
    // forget() of an unknown address does nothing.
    h.cache.forget(RS2);
    assert.equal(h.cache.size, 1);
  });

  it('forget() followed by a failure still reports the change when the next resolution succeeds', async () => {
    const h = harness();
    await h.resolved(RS, MAC_A);
    h.cache.forget(RS);
    const failing = h.cache.lookup(RS, SOURCE, h.now + 1000);
    await Promise.resolve();
    h.calls[1]!.fail();
    await assert.rejects(failing);
    await h.resolved(RS, MAC_B);
    assert.deepEqual(h.changes, [{address: '198.51.100.11', previous: '02:00:00:00:00:aa', current: '02:00:00:00:00:bb'}]);
  });

  it('remove() forgets the address entirely: resolved again, and a new MAC is no change', async () => {
    const h = harness();
    await h.resolved(RS, MAC_A);
    await h.resolved(RS2, MAC_A);
    h.cache.remove(RS);
    assert.equal(h.cache.size, 1);
    const again = await h.resolved(RS, MAC_B);
    assert.equal(again.requests, 1);
    assert.equal(h.calls.length, 3);
    assert.deepEqual(h.changes, [], 'no previous MAC to compare with');
    assert.equal(h.cache.counters.changes, 0);
    assert.equal((await h.cache.lookup(RS2, SOURCE, h.now + 1000)).requests, 0, 'the other address is untouched');
  });

  it('remove() while a resolution is in flight does not let that resolution re-create the entry', async () => {
    const h = harness();
    const pending = h.cache.lookup(RS, SOURCE, h.now + 1000);
    await Promise.resolve();
    h.cache.remove(RS);
    h.calls[0]!.answer(MAC_A);
    await pending;
    assert.equal(h.cache.size, 0, 'an address that left the configuration is not cached');
  });
});
