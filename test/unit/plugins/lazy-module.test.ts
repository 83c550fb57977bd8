/** A check's run module is loaded once and kept (src/plugins/common/lazy-module.ts); a failed load is retried. */
import assert from 'node:assert/strict';
import {lazyModule} from '../../../src/plugins/common/lazy-module.js';

describe('lazyModule', () => {
  it('loads on the first call only, and hands the module itself (no promise) once loaded', async () => {
    let loads = 0;
    const get = lazyModule(async () => ({loads: ++loads}));
    const [a, b] = await Promise.all([get(), get()]);
    assert.equal(a, b);
    assert.equal(loads, 1);
    assert.deepEqual(get(), {loads: 1}, 'synchronous once loaded');
  });

  it('does not keep a failed load: the next call tries again', async () => {
    let attempts = 0;
    const get = lazyModule(async () => {
      if (++attempts === 1) throw new Error('ENOENT');
      return {ok: true};
    });
    await assert.rejects(Promise.resolve(get()), /ENOENT/);
    assert.deepEqual(await get(), {ok: true});
    assert.equal(attempts, 2);
  });
});
