/** The builders' pooled buffers: zero-filled whatever the shared pool held before. */
import assert from 'node:assert/strict';
import {zeroedBuffer} from '../../../src/core/wire/bytes.js';

describe('zeroedBuffer', () => {
  it('returns zeros even where the shared pool held other bytes', () => {
    for (let i = 0; i < 64; i++) Buffer.allocUnsafe(100).fill(0xff); // dirty the pool
    for (const length of [0, 1, 54, 60, 1514, 4095, 4096, 70_000]) {
      const buffer = zeroedBuffer(length);
      assert.equal(buffer.length, length);
      assert.ok(buffer.every((b) => b === 0), `${length} bytes all zero`);
    }
  });
});
