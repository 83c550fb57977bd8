#!/usr/bin/env node
// Every check is a new process under Nagios or keepalived, so start-up is the product's main cost:
// - this entry point is CommonJS: Node 20's ES module loader adds ~20 ms to every start (measured);
// - a check run goes straight to one esbuild bundle (dist/fast-path.cjs) holding the check and the same flag
//   parser the oclif commands use; help, version and the command list go through oclif, which alone costs
//   ~100 ms to load. VIPCHECK_OCLIF=1 forces the oclif path (tests prove both behave the same);
// - the bundle is compiled with a V8 code cache (see loadBundle below).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// The Monitoring Plugins convention: -h is --help (also after a check name), and -V or --version anywhere
// prints the version.
const argv = process.argv.slice(2).some((a) => a === '-V' || a === '--version')
  ? ['--version']
  : process.argv.slice(2).map((a) => (a === '-h' ? '--help' : a));

function runOclif() {
  return import('@oclif/core').then(({execute}) => execute({dir: __filename, args: argv}));
}

/**
 * Loads dist/fast-path.cjs like require() would, but with V8's code cache for this check: the bytecode of
 * every function an earlier run of the same check compiled, so this run does not parse and compile them
 * again (measured: docs/benchmarks.md). The first run of a check that exits 0 (OK, so the whole healthy path
 * ran: not a usage error, not a timeout) writes the cache at exit when dist/ is writable, and so does such a
 * run whose cache V8 rejected (another Node version or V8 flags); otherwise the bundle simply compiles as
 * usual. V8 checks a cache only against the source length, so the file name also carries the bundle's size
 * and modification time: a rebuilt bundle never meets an old cache. Whoever can write dist/ can change the
 * bundle itself, so the cache adds no new trust.
 */
function loadBundle(check) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const file = path.join(__dirname, '..', 'dist', 'fast-path.cjs');
  const source = fs.readFileSync(file, 'utf8');
  let cacheFile;
  let cachedData;
  if (check) {
    const stat = fs.statSync(file);
    cacheFile = path.join(path.dirname(file), `fast-path.${check}.${stat.size}-${Math.trunc(stat.mtimeMs)}.v8cache`);
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(Module.wrap(source), {filename: file, ...(cachedData ? {cachedData} : {})});
  const module = {exports: {}};
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, path.dirname(file));
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', (code) => {
      if (code !== 0) return;
      const temporary = `${cacheFile}.${process.pid}`;
      try {
        // 'wx': never through a file (or symlink) that is already there.
        fs.writeFileSync(temporary, script.createCachedData(), {flag: 'wx', mode: 0o644});
        fs.renameSync(temporary, cacheFile);
      } catch {
        try {
          fs.unlinkSync(temporary);
        } catch {
          // not writable: nothing was written
        }
      }
    });
  }
  return module.exports;
}

if (process.env.VIPCHECK_OCLIF === '1') {
  runOclif();
} else {
  // Only a plain command name keys a cache (never a path or an option), so argv cannot choose the file name.
  const check = /^[a-z][a-z0-9-]{0,31}$/.test(argv[0] ?? '') ? argv[0] : undefined;
  loadBundle(check)
    .runFastPath(argv)
    .then((handled) => handled || runOclif());
}
