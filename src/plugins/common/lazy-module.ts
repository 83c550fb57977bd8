/**
 * A check's run module, loaded on its first run and kept. A check declares its flags without loading its run
 * code (start-up is the one-shot CLI's main cost), and `await import()` of a module already loaded still looks up
 * its module job and allocates ~2 KB per call: the agent paid that on every probe (a sixteenth of its allocation
 * at 2,000 probes/s, measured with a sampling heap profile). A failed load is not kept, so the next run tries again.
 */
export function lazyModule<M>(load: () => Promise<M>): () => M | Promise<M> {
  let loaded: M | undefined;
  let loading: Promise<M> | undefined;
  return () =>
    loaded ??
    (loading ??= load().then(
      (module) => (loaded = module),
      (error: unknown) => {
        loading = undefined;
        throw error;
      },
    ));
}
