import assert from 'node:assert/strict';
import {seqAdd, seqGe, seqGt, seqInRange, seqLe, seqLt, seqSub} from '../../../src/core/wire/seq.js';

const MAX = 0xffff_ffff;

describe('wire/seq', () => {
  it('adds modulo 2^32, negative steps included', () => {
    assert.equal(seqAdd(MAX, 1), 0);
    assert.equal(seqAdd(MAX - 9, 20), 10);
    assert.equal(seqAdd(5, -10), MAX - 4);
    assert.equal(seqAdd(123, 0), 123);
  });

  it('gives the signed distance in (-2^31, 2^31]', () => {
    assert.equal(seqSub(10, MAX - 9), 20);
    assert.equal(seqSub(MAX - 9, 10), -20);
    assert.equal(seqSub(0x8000_0000, 0), 0x8000_0000);
    assert.equal(seqSub(0, 0x8000_0000), 0x8000_0000);
    assert.equal(seqSub(0, 0x7fff_ffff), -0x7fff_ffff);
    assert.equal(seqSub(7, 7), 0);
  });

  it('compares across the wrap point', () => {
    assert.ok(seqLt(MAX, 0));
    assert.ok(seqGt(0, MAX));
    assert.ok(seqLe(MAX, MAX));
    assert.ok(seqGe(5, 5));
    assert.ok(!seqLt(5, 5));
    assert.ok(seqLt(0x7fff_fff0, 0x8000_0010));
    assert.ok(seqGt(100, 0xffff_ff00));
  });

  it('agrees with plain comparison for nearby numbers away from the wrap', () => {
    for (const [a, b] of [
      [1, 2],
      [1000, 999],
      [0x1234_5678, 0x1234_5678],
    ] as const) {
      assert.equal(seqLt(a, b), a < b);
      assert.equal(seqLe(a, b), a <= b);
      assert.equal(seqGt(a, b), a > b);
      assert.equal(seqGe(a, b), a >= b);
    }
  });

  it('tests half-open windows, wrapping ones included', () => {
    assert.ok(seqInRange(10, 10, 20));
    assert.ok(seqInRange(19, 10, 20));
    assert.ok(!seqInRange(20, 10, 20));
    assert.ok(!seqInRange(9, 10, 20));
    assert.ok(seqInRange(MAX, MAX - 5, 5));
    assert.ok(seqInRange(3, MAX - 5, 5));
    assert.ok(!seqInRange(5, MAX - 5, 5));
    assert.ok(!seqInRange(7, 7, 7), 'an empty window holds nothing');
  });
});
